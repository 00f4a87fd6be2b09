"""onboarding-30 for one tenant, tick by tick: every touchpoint on its day, inside the
tenant's send window, exactly once — however often the tick runs."""

from datetime import timedelta

import pytest
from django.core import mail

from playbooks.models import Delivery, Run, Task
from tenants.models import TimelineEntry

from .touchpoint_helpers import (
    EXPECTED_SENT,
    EXPECTED_SKIPPED,
    NEW_YORK,
    SIGNUP,
    hourly,
    new_york_tenant,
    sent_counts,
    sms_outbox,
    tick_at,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("alert_playbooks_off")]


def assert_onboarding_30_went_exactly_once(tenant) -> None:
    assert Run.objects.for_tenant(tenant).count() == 1
    assert sent_counts(tenant) == dict.fromkeys(EXPECTED_SENT, 1)
    deliveries = {d.step.key: d for d in Delivery.objects.for_tenant(tenant).select_related("step")}
    for key, day in EXPECTED_SENT.items():
        delivery = deliveries[key]
        sent_local = delivery.sent_at.astimezone(NEW_YORK)
        due_local = (SIGNUP + timedelta(days=day)).astimezone(NEW_YORK)
        if delivery.step.transactional and delivery.step.channel == "sms":
            # Transactional, but a text: due at 21:00 New York time, in the quiet hours
            # (21:00–08:00), so it goes at the first tick from 08:00 the next morning.
            assert sent_local.date() == due_local.date() + timedelta(days=1), (key, sent_local)
            assert (sent_local.hour, sent_local.minute) == (8, 0), (key, sent_local)
        elif delivery.step.transactional or delivery.step.channel in {"task", "in_app", "webhook"}:
            # At once: the first tick at or after the moment it is due.
            assert delivery.sent_at - (SIGNUP + timedelta(days=day)) < timedelta(hours=1), key
        else:
            # Due at 21:00 New York time, so it waits for 09:00 the next morning, New York time.
            assert 9 <= sent_local.hour < 18, (key, sent_local)
            assert sent_local.date() == due_local.date() + timedelta(days=1), (key, sent_local)
    for key in EXPECTED_SKIPPED:
        assert deliveries[key].status == Delivery.Status.SKIPPED
        assert deliveries[key].reason.startswith("condition false: usage_level == ")
        assert "(it is low)" in deliveries[key].reason
    # The customer got exactly these messages: 4 emails, 1 SMS; the CSM 5 tasks.
    subjects = sorted(m.subject for m in mail.outbox)
    assert len(subjects) == 4, subjects
    assert len(sms_outbox()) == 1 and sms_outbox()[0].to == "+14155550123"
    assert Task.objects.for_tenant(tenant).count() == 5


def test_a_tenant_walks_through_onboarding_30_with_an_hourly_tick():
    """Over 30 s (70–120 s in CI): the real tick at every hour of 31 days (744 ticks), so
    every Day-N step meets the window, the throttle and the stale rule as production would."""
    tenant = new_york_tenant()

    for moment in hourly(SIGNUP, 31 * 24):
        tick_at(moment)

    assert_onboarding_30_went_exactly_once(tenant)
    welcome = next(m for m in mail.outbox if m.subject.startswith("Welcome to CloudGreet, Dana"))
    assert "http://localhost:8000/onboarding/" in welcome.body
    assert "Unsubscribe" not in welcome.body  # transactional: no unsubscribe footer
    recap = next(m for m in mail.outbox if m.subject.startswith("Your first week"))
    assert (
        "Calls handled: 0" in recap.body and "Unsubscribe: http://localhost:8000/touchpoints/unsubscribe/" in recap.body
    )
    assert recap.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = recap.alternatives[0][0]
    assert "<ul><li>Calls handled: 0</li>" in html
    kinds = set(TimelineEntry.objects.for_tenant(tenant).values_list("kind", flat=True))
    assert {"playbook.started", "touchpoint.email", "touchpoint.sms", "touchpoint.task"} <= kinds
    assert Run.objects.for_tenant(tenant).get().status == Run.Status.COMPLETED


def test_every_tick_run_twice_still_sends_each_touchpoint_once():
    """Over 30 s (150–230 s in CI): the 31-day hourly walk with every tick run twice (1,488
    ticks) — a retried task or a second beat at any moment must change nothing."""
    tenant = new_york_tenant()

    for moment in hourly(SIGNUP, 31 * 24):
        tick_at(moment)
        tick_at(moment)

    assert_onboarding_30_went_exactly_once(tenant)
