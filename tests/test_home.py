"""The cockpit's home (issue 15): a CSM starts the day on their own book — tenants by health,
the alerts assigned to them, their tasks — and can switch to everyone's; a CS lead also sees
the team's load; billing ops land on the past-due queue. Every figure here is worked out by
hand from the rows made below; test_numbers_agree follows each tile's link and counts the
list behind it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.models import Alert, AlertRule, Route
from alerts.services import rules_sync
from playbooks.models import Task
from tenants.models import Tenant

from .alert_helpers import NOW, tenant_at

pytestmark = pytest.mark.django_db
HOME = "/admin/customer-success/"


@pytest.fixture(autouse=True)
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def book(csm) -> dict[str, Tenant]:
    """Casey's book: Acme critical, Birch healthy, Cedar new (warming up); Dune, nobody's, at
    risk. Alerts: a P1 on Acme assigned to Casey, 2 h past its SLA; a P2 on Birch assigned to
    Casey, SLA tomorrow; a P3 on Dune in the CSM queue. Tasks: Casey's call today at 17:00,
    Casey's review in 3 days, and one waiting in the CSM queue."""
    buckets = {"acme": "critical", "birch": "healthy", "cedar": "new", "dune": "at_risk"}
    tenants = {}
    for external_id, bucket in buckets.items():
        owner = None if external_id == "dune" else csm
        tenants[external_id] = tenant_at(external_id, signed_up_at=NOW - timedelta(days=60), csm_owner=owner)
        Tenant.objects.filter(external_id=external_id).update(health_bucket=bucket)
    rules_sync(now=NOW)
    rule = AlertRule.objects.get(slug="usage_drop")
    for external_id, severity, assignee, sla in [
        ("acme", "P1", csm, NOW - timedelta(hours=2)),
        ("birch", "P2", csm, NOW + timedelta(days=1)),
        ("dune", "P3", None, NOW + timedelta(days=3)),
    ]:
        Alert.all_tenants.create(
            tenant=tenants[external_id],
            rule=rule,
            severity=severity,
            route=Route.CSM,
            assignee=assignee,
            rationale=f"Usage of {tenants[external_id].name} is down",
            opened_at=NOW - timedelta(days=1),
            sla_due_at=sla,
        )
    for title, assignee, due in [
        ("Kick-off call with Acme", csm, NOW.replace(hour=17)),
        ("Review Birch's first month", csm, NOW + timedelta(days=3)),
        ("Call Dune", None, NOW + timedelta(hours=1)),
    ]:
        Task.all_tenants.create(
            tenant=tenants["acme"], title=title, assignee=assignee, role="csm", due_at=due, created_at=NOW
        )
    return tenants


def tiles(html: str) -> dict[str, int]:
    found = re.findall(r'<span class="label">([^<]+)</span><strong><a href="[^"]*">(\d+)</a>', html)
    return {label: int(count) for label, count in found}


def test_a_csm_starts_on_their_own_book(client, csm):
    tenants = book(csm)
    # Onboarding: Acme still working through it, Birch done (first value on day 3), Cedar stalled.
    from onboarding.models import TenantOnboarding

    TenantOnboarding.all_tenants.filter(tenant=tenants["birch"]).update(
        completed_at=NOW - timedelta(days=50), first_value_at=NOW - timedelta(days=57)
    )
    TenantOnboarding.all_tenants.filter(tenant=tenants["cedar"]).update(stalled_since=NOW - timedelta(days=40))
    # Billing: Acme ($49) past due, Birch ($99) paying; Cedar's trial ends in 3 days, Dune's
    # (not Casey's) too; a trial ending in 10 days is not "this week".
    from billing.models import Subscription, Trial

    for key, status, mrr in (("acme", "past_due", 4900), ("birch", "active", 9900)):
        Subscription.all_tenants.create(
            tenant=tenants[key], stripe_id=f"sub_{key}", status=status, mrr_cents=mrr, list_mrr_cents=mrr,
            state_at=NOW, created_at=NOW, updated_at=NOW,
            past_due_since=NOW - timedelta(days=2) if status == "past_due" else None,
        )  # fmt: skip
    for key, days in (("cedar", 3), ("dune", 3)):
        Trial.all_tenants.create(
            tenant=tenants[key], plan="starter", started_at=NOW - timedelta(days=11),
            ends_at=NOW + timedelta(days=days), created_at=NOW, updated_at=NOW,
        )  # fmt: skip
    client.force_login(csm)

    html = client.get(HOME).content.decode()

    assert tiles(html) == {
        "Critical": 1,
        "At risk": 0,  # Dune is at risk, but not Casey's
        "Healthy": 1,
        "New": 1,
        "SLA breached": 1,  # the P1, 2 h past due and not acknowledged
        "P1 – urgent": 1,
        "P2 – high": 1,
        "P3 – normal": 0,  # the P3 is unassigned
        "Info": 0,
        "Open tasks": 2,
        "Touchpoints sent today": 0,  # tests/test_touchpoint_list.py counts sends by hand
        "Touchpoints failed today": 0,
        "Touchpoints to review": 0,
        "In progress": 1,
        "Stalled": 1,
        "Complete": 1,
        "Past due": 1,
        "Trial ends within 7 days": 1,
        "Renewals within 120 days": 0,  # tests/test_renewals.py counts renewals by hand
        "Expansion opportunities": 0,  # tests/test_expansion.py counts the pipeline by hand
    }
    # MRR of the book: $49 + $99; at risk: Acme's (critical, and past due).
    assert "MRR</span><strong>$148.00</strong>" in html
    assert "MRR at risk</span><strong>$49.00</strong>" in html
    assert "3 tenants" in html
    # Birch reached first value 3 days after its signup (60 days ago): the book's only one.
    assert '3.0 days</strong><small class="muted">1 signup of the last 90 days that reached it' in html
    # The head of the queue, most urgent first, and only today's task.
    assert html.index("Acme Inc</a> — Usage drop") < html.index("Birch Inc</a> — Usage drop")
    assert "Kick-off call with Acme" in html and "Review Birch" not in html
    assert "The team" not in html


def test_a_task_done_from_the_home_returns_to_the_home(client, csm):
    book(csm)
    task = Task.all_tenants.get(title="Kick-off call with Acme")
    client.force_login(csm)

    response = client.post(f"/admin/customer-success/tasks/{task.id}/complete/", {"next": HOME})

    assert response.status_code == 302 and response["Location"] == HOME
    html = client.get(HOME).content.decode()
    assert "Done: Kick-off call with Acme" in html  # said once, and gone from the list
    assert f'id="home-task-{task.id}"' not in html and tiles(html)["Open tasks"] == 1


def test_everyones_view_counts_every_tenant_and_queue(client, csm):
    book(csm)
    client.force_login(csm)

    counts = tiles(client.get(f"{HOME}?scope=all").content.decode())

    assert (counts["At risk"], counts["P3 – normal"], counts["Open tasks"]) == (1, 1, 3)
    assert (counts["Critical"], counts["Healthy"], counts["New"]) == (1, 1, 1)


def test_a_cs_lead_sees_the_teams_load(client, csm, cs_lead):
    book(csm)
    client.force_login(cs_lead)

    html = client.get(HOME).content.decode()

    team = html.split('id="team-heading"', 1)[1]
    row = re.search(r"<td>Casey Morgan</td>(.*?)</tr>", team, re.S).group(1)
    assert re.findall(r">(\d+)<", row) == ["3", "2", "1", "2"]  # tenants, active alerts, breached, open tasks
    assert f'href="/admin/customer-success/alerts/?assignee={csm.id}&amp;sla=breached"' in row


def test_an_unknown_view_is_named_and_the_default_shown(client, csm):
    client.force_login(csm)

    response = client.get(f"{HOME}?scope=<b>boss</b>")

    assert response.status_code == 200
    assert "“&lt;b&gt;boss&lt;/b&gt;” is not a view of the cockpit: showing my book." in response.content.decode()


def test_each_person_lands_where_their_work_is(client, csm, billing_ops):
    client.force_login(billing_ops)
    assert client.get("/after-login/")["Location"] == "/admin/billing/"
    client.force_login(csm)
    assert client.get("/after-login/")["Location"] == HOME


def test_the_home_runs_as_many_queries_for_forty_more_tenants(client, csm, cs_lead):
    book(csm)
    client.force_login(cs_lead)
    client.get(HOME)
    with CaptureQueriesContext(connection) as fewer:
        client.get(HOME)
    for n in range(40):
        tenant = tenant_at(f"more-{n}", signed_up_at=NOW - timedelta(days=60), csm_owner=csm if n % 2 else cs_lead)
        Task.all_tenants.create(tenant=tenant, title=f"Call {n}", assignee=csm, role="csm", due_at=NOW, created_at=NOW)
    with CaptureQueriesContext(connection) as more:
        client.get(HOME)

    assert len(more.captured_queries) == len(fewer.captured_queries)


def test_the_trend_and_last_weeks_counts_come_from_the_score_history(client, csm):
    """Casey's book scored on two days: a week ago Acme was at risk and Birch healthy; today
    Acme is critical and Birch healthy. Dune (nobody's) is not in Casey's trend."""
    from health.models import HealthScore
    from health.services import published_model

    tenants = book(csm)
    model = published_model()
    today, week_ago = NOW.date(), NOW.date() - timedelta(weeks=1)
    for key, day, bucket, score in [
        ("acme", week_ago, "at_risk", 70),
        ("birch", week_ago, "healthy", 90),
        ("dune", week_ago, "critical", 30),
        ("acme", today, "critical", 40),
        ("birch", today, "healthy", 91),
        ("dune", today, "critical", 31),
    ]:
        HealthScore.all_tenants.create(
            tenant=tenants[key], day=day, computed_at=NOW, score=score, bucket=bucket, model=model, components=[]
        )
    client.force_login(csm)
    html = client.get(HOME).content.decode()
    # Tiles: today's counts (from the tenants) beside last week's (from the history).
    assert re.search(
        r"Critical</span><strong><a [^>]*>1</a></strong><small class=\"muted\">a week ago: 0</small>", html
    )
    assert re.search(r"At risk</span><strong><a [^>]*>0</a></strong><small class=\"muted\">a week ago: 1</small>", html)
    # The table under the chart: 12 weeks, only the last two with tenants in them.
    rows = re.findall(
        r"<tr><td>(\d+ \w+ \d{4})</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>", html
    )
    assert len(rows) == 12
    assert rows[-2] == ("11 Nov 2026", "0", "1", "1", "0", "2")
    # This week's column is the tiles' own numbers: Acme critical, Birch healthy, Cedar new.
    assert rows[-1] == ("18 Nov 2026", "1", "0", "1", "1", "3")
    assert 'aria-labelledby="trend-caption"' in html
