"""The quarterly NPS survey (issue 16 §2, seed 001): 120, 210, 300 … days after signup the
owner gets the survey link by email, once per quarter, on a weekday between 09:00 and 17:00
their time; a tenant whose touchpoints are paused is not asked. NOW is Wednesday 18 Nov 2026,
15:00 UTC."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lifecycle.models import NpsAsk
from lifecycle.nps_cadence import ask_number, quarterly_nps_send
from messaging.models import Message
from playbooks.models import TouchpointPause

from .alert_helpers import NOW, tenant_at

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def asks(tenant) -> list[int]:
    return list(NpsAsk.objects.for_tenant(tenant).order_by("number").values_list("number", flat=True))


def test_ask_numbers_follow_the_quarters():
    signup = NOW - 200 * DAY
    assert [ask_number(signed_up_at=signup, now=signup + d * DAY) for d in (30, 119, 120, 209, 210, 300)] == [
        0, 0, 1, 1, 2, 3
    ]  # fmt: skip


def test_the_owner_is_asked_once_a_quarter_in_office_hours(csm):
    due = tenant_at("due", signed_up_at=NOW - 125 * DAY, owner_name="Dana Reyes", owner_email="dana@due.example")
    tokyo = tenant_at("tokyo", signed_up_at=NOW - 125 * DAY, timezone="Asia/Tokyo")  # 00:00 there
    young = tenant_at("young", signed_up_at=NOW - 100 * DAY)
    paused = tenant_at("paused", signed_up_at=NOW - 130 * DAY)
    TouchpointPause.objects.create(tenant=paused, paused_at=NOW - DAY, paused_by=csm)

    assert quarterly_nps_send(now=NOW) == 1
    assert quarterly_nps_send(now=NOW + timedelta(minutes=1)) == 0  # once
    assert (asks(due), asks(tokyo), asks(young), asks(paused)) == ([1], [], [], [1])
    assert NpsAsk.objects.for_tenant(paused).get().skipped == "touchpoints paused"
    email = Message.objects.get(purpose="lifecycle.nps")
    assert email.recipient == "dana@due.example" and email.subject.startswith("Dana, how likely are you to recommend")
    assert "/survey/" in email.body and email.redact_after_send

    assert quarterly_nps_send(now=NOW + 10 * timedelta(hours=1)) == 1  # 10:00 in Tokyo on Thursday
    assert asks(tokyo) == [1]
    # 90 days on (a Tuesday): Due's second quarter (215 days), Young's first (190 days); Tokyo is
    # asleep again.
    assert quarterly_nps_send(now=NOW + 90 * DAY) == 2
    assert (asks(due), asks(young), asks(tokyo)) == ([1, 2], [1], [1])
