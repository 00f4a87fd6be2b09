"""A property-based replay of the schedule (issue 19): a few tenants in random time zones
(daylight-saving ones, +05:30 and +05:45 among them) sign up at random moments, use the
product more or less from one tick to the next, have a card fail and recover, reply STOP,
move to another time zone mid-run — and the real tick runs at irregular intervals of up to 3
hours. Whatever hypothesis draws, these hold:

- each step of each run goes out at most once: one sent outbox message per sent delivery, and
  the mail and SMS backends agree with the rows;
- each Day-N step of onboarding-30 is settled (sent, skipped with a reason, failed,
  cancelled) by the end of the tenant's Day N+1 send window;
- every non-transactional email and every SMS went out inside the tenant's send window, and
  no SMS in its quiet hours (21:00–08:00 local), in the zone the tenant had at that moment;
- of a variant group (the Day 3 activation), at most one member is sent, and a group with
  none sent has a reason on every member;
- no text goes to a number after it replied STOP.

Every tick is the real one (all jobs, ~0.15 s on SQLite), so an example costs 5–25 s: CI runs
two (REPLAY_EXAMPLES, REPLAY_DAYS=4.5: Day 0 and Day 3 with its variants; about 30 s, which is
why this test is over the 30 s mark), and `make test-replay` runs a long, randomised one.
Each example rolls its rows back, so examples do not see each other.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging import sms
from messaging.models import Message
from messaging.receipts import sms_inbound
from onboarding.services import onboarding_start
from playbooks.models import Delivery
from playbooks.scheduling import TERMINAL
from tenants.models import Tenant
from tenants.services import tenant_timezone_change

from .alert_helpers import ingest
from .billing_helpers import StripeStory, stripe_settings
from .factories import TenantFactory
from .touchpoint_helpers import tick_at

pytestmark = pytest.mark.django_db

ZONES = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Asia/Kathmandu",
]
# 5 March 2027: New York changes to summer time on the 14th, Berlin on the 28th.
START = datetime(2027, 3, 5, 0, 0, tzinfo=UTC)
HORIZON = timedelta(days=float(os.environ.get("REPLAY_DAYS", "4.5")))
WINDOW = (time(9, 0), time(18, 0))
QUIET = (time(21, 0), time(8, 0))
EXAMPLES = int(os.environ.get("REPLAY_EXAMPLES", "2"))


@st.composite
def tenant_story(draw: st.DrawFn, index: int) -> dict:
    return {
        "external_id": f"replay-{index}",
        "zone": draw(st.sampled_from(ZONES)),
        "signup": START + timedelta(minutes=draw(st.integers(0, 36 * 60))),
        "phone": draw(st.booleans()),
        "consent": draw(st.booleans()),
        # events per tick, changing from one tick to the next (usage that rises and falls)
        "usage": draw(st.lists(st.integers(0, 3), min_size=1, max_size=12)),
        "card_fails_at_tick": draw(st.none() | st.integers(2, 40)),
        "card_recovers_after": draw(st.integers(1, 30)),
        "stop_at_tick": draw(st.none() | st.integers(1, 60)),
        # the owner tells us they are somewhere else, mid-run
        "moves": draw(st.none() | st.tuples(st.integers(1, 60), st.sampled_from(ZONES))),
    }


@st.composite
def replay(draw: st.DrawFn) -> dict:
    count = draw(st.integers(1, 3))
    return {
        "tenants": [draw(tenant_story(i)) for i in range(count)],
        # minutes between ticks: irregular, up to 3 hours
        "gaps": draw(st.lists(st.integers(45, 180), min_size=8, max_size=8)),
    }


def _in(local: time, span: tuple[time, time]) -> bool:
    start, end = span
    return (local >= start or local < end) if start > end else start <= local < end


def _run(story: dict) -> tuple[list[Tenant], dict[str, datetime], dict[int, list], datetime]:
    tenants, stories, stopped, zones = [], {}, {}, {}
    for s in story["tenants"]:
        tenant = TenantFactory(
            external_id=s["external_id"],
            name=f"Replay {s['external_id']}",
            timezone=s["zone"],
            signed_up_at=s["signup"],
            owner_phone=f"+1415555{int(s['external_id'].split('-')[1]):04d}" if s["phone"] else "",
            sms_consent_at=s["signup"] if s["phone"] and s["consent"] else None,
        )
        onboarding_start(tenant=tenant)
        tenants.append(tenant)
        zones[tenant.id] = [(s["signup"], s["zone"])]
        stripe_story = StripeStory(tenant)
        stripe_story.customer(at=s["signup"])
        stripe_story.status("active", at=s["signup"], event="customer.subscription.created")
        stories[tenant.id] = stripe_story
    moment = min(s["signup"] for s in story["tenants"])
    end = moment + HORIZON
    tick = 0
    while moment < end:
        for s, tenant in zip(story["tenants"], tenants, strict=True):
            if moment < s["signup"]:
                continue
            events = s["usage"][tick % len(s["usage"])]
            if events:
                ingest(tenant, "call.handled", moment - timedelta(minutes=1), count=events, now=moment)
            if s["card_fails_at_tick"] == tick:
                stories[tenant.id].go_past_due(at=moment)
            if s["card_fails_at_tick"] is not None and s["card_fails_at_tick"] + s["card_recovers_after"] == tick:
                stories[tenant.id].status("active", at=moment)
            if s["stop_at_tick"] == tick and tenant.owner_phone and tenant.owner_phone not in stopped:
                sms_inbound(phone=tenant.owner_phone, body="STOP", now=moment)  # as Twilio's webhook does
                stopped[tenant.owner_phone] = moment
            if s["moves"] and s["moves"][0] == tick:
                tenant_timezone_change(tenant=tenant, timezone=s["moves"][1], actor=None, now=moment)
                zones[tenant.id].append((moment, s["moves"][1]))
        tick_at(moment)
        moment += timedelta(minutes=story["gaps"][tick % len(story["gaps"])])
        tick += 1
    return tenants, stopped, zones, moment


def _zone_at(history: list[tuple[datetime, str]], at: datetime) -> ZoneInfo:
    return ZoneInfo([name for since, name in history if since <= at][-1])


def _check(tenants: list[Tenant], stopped: dict[str, datetime], zones: dict[int, list], last: datetime) -> None:
    sent_statuses = (Delivery.Status.SENT, Delivery.Status.DELIVERED)
    for tenant in tenants:
        history = zones[tenant.id]
        deliveries = list(Delivery.objects.for_tenant(tenant).select_related("step", "run__playbook").order_by("id"))
        # At most once: one row per run × step (a constraint), and the outboxes agree.
        sent_email = [d for d in deliveries if d.status in sent_statuses and d.step.channel == "email"]
        sent_sms = [d for d in deliveries if d.status in sent_statuses and d.step.channel == "sms"]
        assert len([m for m in mail.outbox if m.to == [tenant.owner_email]]) == len(sent_email)
        assert len([m for m in sms.outbox if m.tenant == tenant.external_id]) == len(sent_sms)
        # The one outbox agrees: a sent delivery has one sent message, the one it names; an
        # unsent one has none.
        went = Message.objects.filter(tenant=tenant, purpose__startswith="touchpoint.")
        went = went.filter(status__in=["sent", "delivered"])
        sent_messages = Counter(went.values_list("topic", flat=True))
        for d in deliveries:
            sent = d.status in sent_statuses and d.step.channel in ("email", "sms", "webhook")
            assert sent_messages[f"delivery:{d.id}"] == int(sent), (d, d.status, sent_messages[f"delivery:{d.id}"])
        for d in sent_email + sent_sms:
            zone = _zone_at(history, d.sent_at)  # the zone the tenant had when it went
            local = d.sent_at.astimezone(zone).time()
            if not d.step.transactional:
                assert _in(local, WINDOW), (d, d.sent_at.astimezone(zone))
            if d.step.channel == "sms":
                assert not _in(local, QUIET), (d, d.sent_at.astimezone(zone))
                if d.recipient in stopped:
                    assert d.sent_at < stopped[d.recipient], (d, "texted after STOP")
        for d in deliveries:
            if d.status == Delivery.Status.SKIPPED:
                assert d.reason, d
            if d.run.playbook.slug != "onboarding-30":
                continue
            # Settled by the end of the Day N+1 window, in the tenant's zone — the later of the
            # zones it had, when it moved.
            settle_by = max(
                datetime.combine(d.nominal_at.astimezone(z).date() + timedelta(days=1), WINDOW[1], tzinfo=z)
                for z in {ZoneInfo(name) for _, name in history}
            )
            if last > settle_by + timedelta(hours=3) and d.run.status != "cancelled":
                assert d.status in TERMINAL, (d, d.status, d.reason)
        by_run: dict[int, list[Delivery]] = {}
        for d in deliveries:
            if d.step.variant:
                by_run.setdefault(d.run_id, []).append(d)
        for members in by_run.values():
            assert sum(d.status in sent_statuses for d in members) <= 1, members
            if all(d.status in TERMINAL for d in members) and not any(d.status in sent_statuses for d in members):
                assert all(d.reason for d in members), members


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("REPLAY_RANDOM") != "1",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(story=replay())
def test_the_schedule_holds_for_any_tenants_time_zones_usage_and_tick_timing(story, settings_fixture):
    mail.outbox.clear()
    sms.outbox.clear()
    with transaction.atomic():
        tenants, stopped, zones, last = _run(story)
        _check(tenants, stopped, zones, last)
        transaction.set_rollback(True)


@pytest.fixture
def settings_fixture(settings):
    stripe_settings(settings)
    settings.SMS_QUIET_HOURS = QUIET
    return settings
