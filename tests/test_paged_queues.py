"""Long lists page on the server (issue 15): the alert queue, the task list, the touchpoints in
review and the tenant list show one page with the total, keep their filters in the pager's
links, and answer a page number that is not one with the nearest page and a note — never a
500. A page runs as many queries with 60 rows behind it as with 130."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.models import Alert, AlertRule, Route
from alerts.services import rules_sync, sla_due_at
from playbooks.models import Task

from .alert_helpers import NOW, tenant_at

pytestmark = pytest.mark.django_db


def open_alerts(count: int, *, start: int = 0) -> None:
    """`count` open P2 alerts on as many tenants, for the CSM queue (the rule engine that opens
    them for real is tested in test_alert_rules.py; here only their number matters)."""
    rules_sync(now=NOW)
    rule = AlertRule.objects.get(slug="usage_drop")
    tenants = [tenant_at(f"t{n:03d}", signed_up_at=NOW - timedelta(days=60)) for n in range(start, start + count)]
    Alert.all_tenants.bulk_create(
        Alert(
            tenant=tenant,
            rule=rule,
            severity="P2",
            route=Route.CSM,
            rationale=f"Usage of {tenant.name} is down 60 % on the week before",
            opened_at=NOW - timedelta(minutes=n),
            sla_due_at=sla_due_at("P2", NOW - timedelta(minutes=n)),
        )
        for n, tenant in enumerate(tenants)
    )


def pager(html: str) -> str:
    return re.sub(r"\s+", " ", re.search(r'<nav class="pager".*?</nav>', html, re.S).group(0))


def test_the_alert_queue_pages_with_its_total_and_keeps_its_filters(client, csm):
    open_alerts(120)
    client.force_login(csm)

    first = client.get("/admin/customer-success/alerts/?severity=P2").content.decode()
    last = client.get("/admin/customer-success/alerts/?severity=P2&page=5").content.decode()

    # 25 a page (each row carries its four actions).
    assert first.count('class="alert-row') == 25 and last.count('class="alert-row') == 20
    assert "1–25 of 120 · page 1 of 5" in pager(first)
    assert 'href="?severity=P2&amp;page=2" rel="next"' in first
    assert "101–120 of 120 · page 5 of 5" in pager(last) and 'rel="next"' not in last
    # Most urgent first across pages: the oldest P2 (its SLA runs out first) leads page 1.
    assert first.index("T119 Inc") < first.index("T118 Inc") and "T000 Inc" in last and "T000 Inc" not in first


@pytest.mark.parametrize(
    ("asked", "shown", "note"),
    [
        ("abc", "page 1 of 3", "“abc” is not a page number: showing page 1."),
        ("0", "page 1 of 3", "There is no page 0: showing page 1."),
        ("9", "page 3 of 3", "There is no page 9: showing page 3, the last."),
        ("", "page 1 of 3", ""),
    ],
)
def test_a_page_number_that_is_not_one_shows_the_nearest_page_with_a_note(client, csm, asked, shown, note):
    open_alerts(60)
    client.force_login(csm)

    response = client.get(f"/admin/customer-success/alerts/?page={asked}")

    assert response.status_code == 200
    html = response.content.decode()
    assert shown in pager(html)
    assert (note in html) if note else 'id="pager-note"' not in html


def test_the_task_list_shows_every_open_task_a_page_at_a_time(client, csm):
    tenant = tenant_at("busy", signed_up_at=NOW - timedelta(days=60))
    Task.all_tenants.bulk_create(
        Task(tenant=tenant, title=f"Call {n:03d}", role="csm", due_at=NOW + timedelta(hours=n), created_at=NOW)
        for n in range(260)
    )
    client.force_login(csm)

    html = client.get("/admin/customer-success/tasks/?scope=queue&page=6").content.decode()

    # It used to stop at 200 without a total: now all 260, 50 a page, in due order.
    assert "251–260 of 260 · page 6 of 6" in pager(html)
    assert html.count('<tr id="task-') == 10 and "Call 259" in html and "Call 249" not in html
    assert 'href="?scope=queue&amp;page=5" rel="prev"' in html


def test_the_past_due_queue_pages_oldest_episode_first_and_counts_them_all(client, billing_ops):
    from billing.models import Subscription

    tenants = [tenant_at(f"late-{n:02d}", signed_up_at=NOW - timedelta(days=90), onboarding=False) for n in range(30)]
    Subscription.all_tenants.bulk_create(
        Subscription(
            tenant=tenant, stripe_id=f"sub_{n}", status="past_due", mrr_cents=4900, list_mrr_cents=4900,
            state_at=NOW, created_at=NOW, updated_at=NOW, past_due_since=NOW - timedelta(days=30 - n),
        )
        for n, tenant in enumerate(tenants)
    )  # fmt: skip
    client.force_login(billing_ops)

    first = client.get("/admin/billing/").content.decode()
    second = client.get("/admin/billing/?page=2").content.decode()

    # 30 past due, 25 a page; the header counts all 30 on every page.
    assert '<a href="#past-due">30 subscriptions past due or unpaid</a>' in first
    assert "1–25 of 30 · page 1 of 2" in pager(first) and "26–30 of 30 · page 2 of 2" in pager(second)
    assert first.count('class="queue-row') == 25 and second.count('class="queue-row') == 5
    # Oldest episode first: late-00 (30 days) leads page 1, late-29 (1 day) ends page 2.
    assert first.index("Late-00") < first.index("Late-01") and "Late-29" in second and "Late-29" not in first


@pytest.mark.parametrize("url", ["/admin/customer-success/alerts/", "/admin/customer-success/tenants/"])
def test_a_page_runs_as_many_queries_with_60_rows_behind_it_as_with_130(client, csm, url):
    client.force_login(csm)
    open_alerts(60)
    client.get(url)  # warm the per-process caches (rules, staff) once
    with CaptureQueriesContext(connection) as fewer:
        assert client.get(url).status_code == 200
    open_alerts(70, start=60)
    with CaptureQueriesContext(connection) as more:
        assert client.get(url).status_code == 200

    assert len(more.captured_queries) == len(fewer.captured_queries), [q["sql"][:90] for q in more.captured_queries]


def test_the_task_list_sorts_and_keeps_the_sort_in_its_pages(client, csm):
    acme, birch = tenant_at("acme", signed_up_at=NOW), tenant_at("birch", signed_up_at=NOW)
    Task.all_tenants.bulk_create(
        [
            Task(tenant=birch, title="Call Birch", role="csm", due_at=NOW + timedelta(hours=1),
                 created_at=NOW - timedelta(hours=2)),
            Task(tenant=acme, title="Review Acme", role="csm", due_at=NOW + timedelta(hours=3),
                 created_at=NOW - timedelta(hours=1)),
            Task(tenant=acme, title="Email Acme", role="csm", due_at=NOW + timedelta(hours=2),
                 created_at=NOW - timedelta(hours=3)),
        ]
        + [Task(tenant=birch, title=f"Later {n}", role="csm", due_at=NOW + timedelta(days=9),
                created_at=NOW - timedelta(days=10)) for n in range(60)]
    )  # fmt: skip
    client.force_login(csm)

    def titles(query: str) -> list[str]:
        html = client.get(f"/admin/customer-success/tasks/?scope=queue{query}").content.decode()
        return re.findall(r"<strong>((?:Call|Review|Email) \w+)</strong>", html)

    assert titles("") == ["Call Birch", "Email Acme", "Review Acme"]  # soonest due first
    assert titles("&sort=tenant") == ["Email Acme", "Review Acme", "Call Birch"]  # Acme, then by due
    assert titles("&sort=newest") == ["Review Acme", "Call Birch", "Email Acme"]  # created 1, 2, 3 h ago
    html = client.get("/admin/customer-success/tasks/?scope=queue&sort=tenant").content.decode()
    assert 'href="?scope=queue&amp;sort=tenant&amp;page=2" rel="next"' in html
    bad = client.get("/admin/customer-success/tasks/?scope=queue&sort=drop").content.decode()
    assert "is not a way to sort tasks: showing the soonest due first." in bad
