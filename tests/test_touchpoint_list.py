"""The touchpoint list across tenants (issue 15): what went out today, what failed, what waits
in review — by the team's day, for one CSM's book or everyone's — and the home's "sent today"
and "failed today" tiles, which count exactly its rows. Worked out by hand below."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.ticks import run_tick
from playbooks.models import Delivery

from .alert_helpers import NOW, tenant_at
from .factories import UserFactory

pytestmark = pytest.mark.django_db
LIST = "/admin/customer-success/touchpoints/"


@pytest.fixture
def outcomes(settings, csm):
    """NOW is 15:00 UTC, 10:00 in New York: the team's day began at 05:00 UTC.
    mine-1  sent 14:00 UTC (today)                 failed 13:00 UTC (today)
    mine-2  sent 04:30 UTC (23:30 yesterday in NY) failed 2 days ago
    theirs  sent 14:30 UTC (today), another CSM's tenant"""
    settings.CS_TEAM_TIMEZONE = "America/New_York"
    other = UserFactory(username="casey", is_staff=True, roles=["csm"])
    signup = NOW - timedelta(days=3)
    tenants = {
        "mine-1": tenant_at("mine-1", signed_up_at=signup, csm_owner=csm),
        "mine-2": tenant_at("mine-2", signed_up_at=signup, csm_owner=csm),
        "theirs": tenant_at("theirs", signed_up_at=signup, csm_owner=other),
    }
    with time_machine.travel(signup, tick=False):
        run_tick(now=signup)
    # Whatever the tick did, the outcomes below are the only ones: two messages per tenant (a
    # task step's delivery is never listed: it opens a task, it reaches no customer).
    Delivery.all_tenants.update(status=Delivery.Status.SCHEDULED, sent_at=None)
    plan = {
        "mine-1": [("sent", NOW - timedelta(hours=1)), ("failed", NOW - timedelta(hours=2))],
        "mine-2": [("sent", NOW.replace(hour=4, minute=30)), ("failed", NOW - timedelta(days=2))],
        "theirs": [("sent", NOW - timedelta(minutes=30))],
    }
    for external_id, changes in plan.items():
        ids = (
            Delivery.all_tenants.filter(tenant=tenants[external_id])
            .exclude(step__channel="task")
            .order_by("id")
            .values_list("id", flat=True)
        )
        for delivery_id, (status, at) in zip(ids, changes, strict=False):
            moment = (
                {"sent_at": at} if status == "sent" else {"updated_at": at, "reason": "Twilio reported failed (30003)"}
            )
            Delivery.all_tenants.filter(id=delivery_id).update(status=status, **moment)
    with time_machine.travel(NOW, tick=False):
        yield tenants


def listed(client, query: str) -> list[str]:
    html = client.get(LIST + query).content.decode()
    return re.findall(r'/tenants/([a-z0-9-]+)/"', html.split("<tbody>")[1].split("</tbody>")[0])


def test_sent_and_failed_by_the_teams_day_and_book(client, csm, outcomes):
    client.force_login(csm)

    # mine-2's 04:30 UTC send was 23:30 yesterday in New York: not today, but within 7 days.
    assert listed(client, f"?outcome=sent&day=today&csm={csm.id}") == ["mine-1"]
    assert listed(client, "?outcome=sent&day=today") == ["theirs", "mine-1"]  # newest first
    assert listed(client, f"?outcome=sent&day=7d&csm={csm.id}") == ["mine-1", "mine-2"]
    assert listed(client, f"?outcome=failed&day=today&csm={csm.id}") == ["mine-1"]
    assert listed(client, "?outcome=failed&day=7d") == ["mine-1", "mine-2"]
    page = client.get(LIST + "?outcome=failed&day=today").content.decode()
    assert "Twilio reported failed (30003)" in page and "in America/New_York" in page


def test_the_homes_tiles_count_the_rows_they_link_to(client, csm, outcomes):
    client.force_login(csm)

    mine = client.get("/admin/customer-success/").content.decode()
    everyone = client.get("/admin/customer-success/?scope=all").content.decode()

    sent_mine = f"/admin/customer-success/touchpoints/?outcome=sent&amp;day=today&amp;csm={csm.id}"
    assert f'<a href="{sent_mine}">1</a>' in mine
    assert f'<a href="{sent_mine.replace("sent", "failed")}">1</a>' in mine
    assert '<a href="/admin/customer-success/touchpoints/?outcome=sent&amp;day=today">2</a>' in everyone
    assert '<a href="/admin/customer-success/touchpoints/?outcome=failed&amp;day=today">1</a>' in everyone


@pytest.mark.parametrize(
    ("query", "note", "shown"),
    [
        ("?outcome=<b>lost</b>", "“<b>lost</b>” is not an outcome: showing sent touchpoints.", "Sent · today"),
        ("?day=yesterday", "“yesterday” is not a period: showing today.", "Sent · today"),
        ("?csm=abc", "“abc” is not a CSM: showing everyone's tenants.", "Sent · today"),
        ("?outcome=failed&day=any&page=9", "There is no page 9: showing page 1, the last.", "Failed · any time"),
    ],
)
def test_a_filter_that_is_not_one_is_ignored_with_a_note(client, csm, outcomes, query, note, shown):
    client.force_login(csm)
    response = client.get(LIST + query)
    html = response.content.decode()
    assert response.status_code == 200
    assert note.replace("<", "&lt;").replace(">", "&gt;") in html.replace("&#x27;", "'")
    assert shown in re.sub(r"<[^>]+>", "", html)


def test_the_list_runs_as_many_queries_for_more_rows(client, csm, outcomes):
    client.force_login(csm)
    with CaptureQueriesContext(connection) as fewer:
        client.get(LIST + "?outcome=sent&day=7d")
    Delivery.all_tenants.filter(status="scheduled").exclude(step__channel="task").update(
        status="sent", sent_at=NOW - timedelta(hours=3)
    )
    with CaptureQueriesContext(connection) as more:
        html = client.get(LIST + "?outcome=sent&day=7d").content.decode()
    assert html.count("<tr>") > 6
    assert len(more.captured_queries) == len(fewer.captured_queries)
