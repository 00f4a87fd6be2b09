"""Bulk actions on the queues (issue 15): a CSM ticks alerts or tasks and acts on them at once.
The page the selection came from may be stale — what someone else resolved or finished
meanwhile is named with why and left alone, the rest change, each audited and on its
tenant's timeline like a single click. Bad input changes nothing and says what was wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages

from alerts.models import Alert, AlertRule, Route
from alerts.services import alert_acknowledge, alert_resolve, rules_sync
from playbooks.models import Task
from tenants.models import AuditLog, TimelineEntry

from .alert_helpers import NOW, tenant_at

pytestmark = pytest.mark.django_db
ALERTS = "/admin/customer-success/alerts/"


@pytest.fixture(autouse=True)
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def make_alerts(n: int, *, route: str = Route.CSM) -> list[Alert]:
    rules_sync(now=NOW)
    rule = AlertRule.objects.get(slug="usage_drop")
    alerts = []
    for i in range(n):
        tenant = tenant_at(f"t{route[:3]}{i}", signed_up_at=NOW - timedelta(days=60), name=f"Tenant {route} {i}")
        alerts.append(
            Alert.all_tenants.create(
                tenant=tenant,
                rule=rule,
                severity="P2",
                route=route,
                rationale="Usage is down",
                opened_at=NOW - timedelta(hours=3),
                sla_due_at=NOW + timedelta(hours=1),
            )
        )
    return alerts


def said(response) -> list[str]:
    """The messages the redirect shows (followed, so the next request starts without them)."""
    found = [str(m) for m in get_messages(response.wsgi_request)]
    response.client.get(response["Location"])
    return found


def test_bulk_snooze_changes_what_qualifies_and_names_what_no_longer_does(client, csm, cs_lead):
    a, b, c, d = make_alerts(4)
    # Someone resolved d after the CSM loaded the page.
    alert_resolve(alert=d, actor=cs_lead, note="called them", now=NOW)
    client.force_login(csm)
    back = ALERTS + "?severity=P2&page=1"
    response = client.post(
        ALERTS + "bulk/",
        {"ids": [a.id, b.id, c.id, d.id], "action": "snooze", "preset": "tomorrow", "next": back},
    )
    assert response.status_code == 302 and response["Location"] == back
    assert said(response) == [
        "3 alerts snoozed.",
        "1 left as it was: Tenant csm 3 – Usage drop (resolved meanwhile).",
    ]
    statuses = dict(Alert.all_tenants.values_list("id", "status"))
    assert [statuses[x.id] for x in (a, b, c, d)] == ["snoozed", "snoozed", "snoozed", "resolved"]
    assert AuditLog.objects.filter(action="alert.snoozed").count() == 3
    assert TimelineEntry.all_tenants.filter(kind="alert.snoozed").count() == 3
    # The snooze counts as the response for the SLA, as a single snooze does.
    assert Alert.all_tenants.filter(acknowledged_by=csm).count() == 3


def test_bulk_acknowledge_and_assign_report_the_rows_already_so(client, csm, cs_lead, billing_ops):
    a, b, c = make_alerts(3)
    alert_acknowledge(alert=a, actor=cs_lead, now=NOW)
    client.force_login(csm)
    response = client.post(ALERTS + "bulk/", {"ids": [a.id, b.id, c.id], "action": "acknowledge"})
    assert said(response) == [
        "2 alerts acknowledged.",
        "1 left as it was: Tenant csm 0 – Usage drop (already acknowledged).",
    ]
    response = client.post(ALERTS + "bulk/", {"ids": [b.id, c.id], "action": "assign", "assignee": csm.id})
    assert said(response) == ["2 alerts assigned."]
    assert set(Alert.all_tenants.filter(assignee=csm).values_list("id", flat=True)) == {b.id, c.id}
    # Billing ops does not work the CSM queue: each alert says so, none changes.
    response = client.post(ALERTS + "bulk/", {"ids": [b.id, c.id], "action": "assign", "assignee": billing_ops.id})
    assert said(response)[0].startswith("2 left as they were: Tenant csm 1 – Usage drop (")
    assert "does not work the CSM queue" in said(response)[0]
    assert Alert.all_tenants.filter(assignee=csm).count() == 2


def test_alerts_of_another_queue_are_not_touched(client, billing_ops):
    (csm_alert,) = make_alerts(1)
    (billing,) = make_alerts(1, route=Route.BILLING_OPS)
    client.force_login(billing_ops)
    response = client.post(ALERTS + "bulk/", {"ids": [csm_alert.id, billing.id], "action": "acknowledge"})
    assert said(response) == ["1 alert acknowledged.", f"1 left as it was: Alert {csm_alert.id} (not in your queues)."]
    csm_alert.refresh_from_db()
    assert csm_alert.status == "open"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"action": "acknowledge"}, "Tick the alerts to act on first."),
        ({"ids": ["1", "x1"], "action": "acknowledge"}, "“x1” is not an alert."),
        ({"ids": ["1"], "action": "delete"}, "“delete” is not a bulk action: choose acknowledge, snooze or assign."),
        ({"ids": ["1"], "action": "snooze", "preset": "forever"}, "“forever” is not a snooze choice."),
        ({"ids": ["1"], "action": "snooze", "until": "2026-11-01T09:00"}, "A snooze must end in the future."),
        ({"ids": ["1"], "action": "assign", "assignee": "bob"}, "“bob” is not a person."),
        (
            {"ids": [str(i) for i in range(101)], "action": "acknowledge"},
            "Act on at most 100 alerts at once; 101 were ticked.",
        ),
    ],
)
def test_bad_bulk_input_changes_nothing_and_says_why(client, csm, data, error):
    make_alerts(1)
    client.force_login(csm)
    response = client.post(ALERTS + "bulk/", data | {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == ALERTS
    assert said(response) == [error]
    assert not Alert.all_tenants.exclude(status="open").exists()
    assert not AuditLog.objects.filter(action__startswith="alert.").exists()


def test_the_queue_page_has_the_bulk_bar_and_a_box_per_open_alert(client, csm, cs_lead):
    a, b = make_alerts(2)
    alert_resolve(alert=b, actor=cs_lead, note="done", now=NOW)
    client.force_login(csm)
    html = client.get(ALERTS + "?status=all").content.decode()
    assert 'id="bulk-alerts"' in html and "Apply to ticked alerts" in html
    assert f'name="ids" value="{a.id}" form="bulk-alerts"' in html
    assert f'name="ids" value="{b.id}"' not in html  # resolved: nothing left to do in bulk


def test_bulk_complete_finishes_tasks_and_names_those_done_meanwhile(client, csm, cs_lead):
    tenant = tenant_at("acme", signed_up_at=NOW - timedelta(days=10))
    tasks = [
        Task.all_tenants.create(tenant=tenant, title=f"Call {i}", assignee=csm, role="csm", due_at=NOW, created_at=NOW)
        for i in range(3)
    ]
    Task.all_tenants.filter(id=tasks[2].id).update(status="done", completed_at=NOW, completed_by=cs_lead)
    client.force_login(csm)
    html = client.get("/admin/customer-success/tasks/").content.decode()
    assert f'name="ids" value="{tasks[0].id}" form="bulk-tasks"' in html
    response = client.post(
        "/admin/customer-success/tasks/complete/",
        {"ids": [t.id for t in tasks], "note": "left voicemails", "next": "/admin/customer-success/tasks/?scope=mine"},
    )
    assert response["Location"] == "/admin/customer-success/tasks/?scope=mine"
    assert said(response) == ["2 tasks done.", "1 left as it was: Call 2 (done meanwhile)."]
    done = Task.all_tenants.filter(completed_by=csm)
    assert sorted(done.values_list("title", "note")) == [("Call 0", "left voicemails"), ("Call 1", "left voicemails")]
    assert AuditLog.objects.filter(action="task.complete").count() == 2
    bad = client.post("/admin/customer-success/tasks/complete/", {"ids": ["1", "zz"]})
    assert said(bad) == ["“zz” is not a task."]
    empty = client.post("/admin/customer-success/tasks/complete/", {})
    assert said(empty) == ["Tick the tasks to complete first."]


def test_the_queue_sorts_as_asked_and_names_a_sort_it_does_not_know(client, csm):
    a, b, c = make_alerts(3)
    # a: opened 3 h ago, SLA in 5 h; b: opened 1 h ago, SLA in 1 h; c: opened 2 h ago, SLA in 3 h.
    for alert, opened, sla in ((a, 3, 5), (b, 1, 1), (c, 2, 3)):
        Alert.all_tenants.filter(id=alert.id).update(
            opened_at=NOW - timedelta(hours=opened), sla_due_at=NOW + timedelta(hours=sla)
        )
    client.force_login(csm)

    def order(query: str) -> list[str]:
        html = client.get(ALERTS + query).content.decode()
        return sorted(("Tenant csm 0", "Tenant csm 1", "Tenant csm 2"), key=html.index)

    assert order("?sort=newest") == ["Tenant csm 1", "Tenant csm 2", "Tenant csm 0"]
    assert order("?sort=oldest") == ["Tenant csm 0", "Tenant csm 2", "Tenant csm 1"]
    assert order("?sort=sla") == ["Tenant csm 1", "Tenant csm 2", "Tenant csm 0"]
    odd = client.get(ALERTS + "?sort=random")
    assert "“random” is not a sort filter; it was ignored." in odd.content.decode()
