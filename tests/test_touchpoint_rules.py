"""Schedule semantics (CONTRACTS.md): no backlog for an old signup, a daily throttle, pauses,
unsubscribes, conditions that say why — and a dry run that changes nothing."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.test import Client

from health.models import HealthScore
from messaging.models import Suppression
from playbooks.models import Delivery, InAppMessage, Playbook, Run, Task, TouchpointPause
from playbooks.scheduling import run_start, run_start_manual
from playbooks.simulation import simulate
from tenants.models import AuditLog, Tenant, TimelineEntry

from .billing_helpers import StripeStory, stripe_settings
from .touchpoint_helpers import SIGNUP, hourly, new_york_tenant, sms_outbox, tick_at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("alert_playbooks_off")]


def statuses(tenant: Tenant) -> dict[str, tuple[str, str]]:
    return {d.step.key: (d.status, d.reason) for d in Delivery.objects.for_tenant(tenant).select_related("step")}


def test_a_tenant_created_through_the_api_with_an_old_signup_gets_no_backlog(api, admin_key):
    now = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        response = api(
            "post",
            "/api/v1/tenants/",
            key=admin_key,
            json={
                "external_id": "late-1",
                "name": "Late Import Dental",
                "owner_email": "lee@late.example",
                "plan": "starter",
                "signed_up_at": "2026-11-12T15:00:00Z",  # ten days ago
            },
        )
    assert response.status_code == 201
    tick_at(now)

    tenant = Tenant.objects.get(external_id="late-1")
    state = statuses(tenant)
    assert state["welcome-email"] == ("skipped", "stale: more than 24 h past due when the run started")
    assert state["activation-low"][0] == "skipped" and state["first-week-recap"][0] == "skipped"
    assert state["day-14-check-in"][0] == "scheduled" and state["value-review"][0] == "scheduled"
    assert mail.outbox == []  # no barrage


def test_a_touchpoint_found_more_than_a_day_late_is_skipped_as_stale():
    tenant = new_york_tenant()
    tick_at(SIGNUP)
    tick_at(SIGNUP + timedelta(days=9))  # the tick was down from day 0 to day 9

    state = statuses(tenant)
    assert state["activation-low"] == ("skipped", "stale: found more than 24 h past due")
    assert state["first-week-qa"] == ("skipped", "stale: found more than 24 h past due")  # 2 days late
    assert state["day-14-check-in"][0] == "scheduled"  # what is still ahead goes on its day
    assert not Task.objects.for_tenant(tenant).filter(title__startswith="First-week QA").exists()


def test_the_daily_limit_defers_extra_messages_to_the_next_days_window(settings):
    settings.TOUCHPOINT_DAILY_LIMIT = 1
    tenant = new_york_tenant()
    tick_at(SIGNUP)
    day = datetime(2026, 11, 4, 15, 0, tzinfo=UTC)  # 10:00 in New York, day 2 of onboarding
    # Three non-transactional emails fall due within a day: at-risk's outreach (+2 h), the
    # expansion celebration (its day 1) and onboarding's Day 3 activation email.
    run_start_manual(tenant=tenant, playbook=Playbook.objects.get(slug="at-risk-recovery"), actor=_staff(), now=day)
    expansion = Playbook.objects.get(slug="expansion")
    run_start(
        tenant=tenant, playbook=expansion, trigger="manual", enrolment_key="t", anchor=day - timedelta(days=1), now=day
    )

    for moment in hourly(day, 72):
        tick_at(moment)

    keys = ["personal-outreach", "usage-celebration", "activation-low"]
    emails = list(Delivery.objects.for_tenant(tenant).filter(step__key__in=keys))
    assert {d.status for d in emails} == {Delivery.Status.SENT}
    local = [d.sent_at.astimezone(tenant_zone(tenant)) for d in emails]
    assert len({t.date() for t in local}) == 3, local  # one a day, the others deferred
    assert all(9 <= t.hour < 18 for t in local), local
    assert all(d.reason == "" for d in emails)


def tenant_zone(tenant: Tenant):
    from zoneinfo import ZoneInfo

    return ZoneInfo(tenant.timezone)


def _staff():
    from .factories import UserFactory

    return UserFactory(username="maria", first_name="Maria", last_name="Gomez", roles=["csm"])


def test_paused_tenant_gets_nothing_and_the_reason_is_recorded(client):
    tenant = new_york_tenant()
    staff = _staff()
    client.force_login(staff)
    tick_at(SIGNUP)

    response = client.post("/admin/customer-success/tenants/harbor/touchpoints/pause/", {"note": "Owner on holiday"})
    assert response.status_code == 302
    for moment in hourly(SIGNUP + timedelta(days=3), 24):
        tick_at(moment)

    assert statuses(tenant)["activation-low"] == ("skipped", "touchpoints are paused for this tenant")
    assert TouchpointPause.objects.for_tenant(tenant).get().note == "Owner on holiday"
    assert AuditLog.objects.filter(action="touchpoints.pause", tenant=tenant).exists()
    client.post("/admin/customer-success/tenants/harbor/touchpoints/resume/")
    assert not TouchpointPause.objects.for_tenant(tenant).exists()
    assert TimelineEntry.objects.for_tenant(tenant).filter(kind="touchpoints.resumed").exists()


def test_an_unsubscribe_link_stops_non_transactional_email_but_not_the_welcome(client):
    tenant = new_york_tenant()
    for moment in hourly(SIGNUP, 4 * 24):
        tick_at(moment)
    activation = next(m for m in mail.outbox if "Can we finish setting up" in m.subject)
    link = next(line for line in activation.body.splitlines() if "/touchpoints/unsubscribe/" in line).split(" ")[-1]
    path = link.replace("http://localhost:8000", "")

    page = Client().get(path)
    assert "Stop customer-success emails" in page.content.decode()
    one_click = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert Suppression.objects.filter(channel="email", address="dana@harbor.example").exists()

    for moment in hourly(SIGNUP + timedelta(days=7), 24):
        tick_at(moment)
    assert statuses(tenant)["first-week-recap"][1].startswith("unsubscribed: dana@harbor.example")


def test_sms_needs_a_phone_and_consent_and_says_so():
    tenant = new_york_tenant(external_id="nophone", owner_phone="", sms_consent_at=None)
    tick_at(SIGNUP)
    # 21:00 in New York: a text waits for the end of the quiet hours, 08:00, then decides.
    tick_at(SIGNUP + timedelta(hours=11))
    assert statuses(tenant)["welcome-sms"] == ("skipped", "condition false: has_phone == true (it is false)")
    assert sms_outbox() == []


def test_trial_conversion_waits_for_the_stripe_trial(settings):
    """Its audience is subscription_status == trialing: no subscription yet (Checkout not
    completed) is “none” and says so; once Stripe reports the trial, the next tick enrols."""
    stripe_settings(settings)
    tenant = new_york_tenant()
    playbook = Playbook.objects.get(slug="trial-conversion")
    result = simulate(playbook=playbook, tenants=[tenant], days=7, now=SIGNUP)
    assert not result.tenants[0].enrolled
    assert result.tenants[0].why == "condition false: subscription_status == trialing (it is none)"
    tick_at(SIGNUP)
    assert not Run.objects.for_tenant(tenant).filter(playbook=playbook).exists()

    StripeStory(tenant, plan="starter").status(
        "trialing", at=SIGNUP + timedelta(minutes=5), event="customer.subscription.created"
    )
    tick_at(SIGNUP + timedelta(minutes=6))
    assert Run.objects.for_tenant(tenant).filter(playbook=playbook, status="active").exists()


def test_the_dry_run_over_every_tenant_changes_nothing_and_sends_nothing(tenant_a, tenant_b):
    new_york_tenant()
    tables = [
        Delivery.all_tenants,
        Run.all_tenants,
        Task.all_tenants,
        InAppMessage.all_tenants,
        TimelineEntry.all_tenants,
    ]
    before = [t.count() for t in tables] + [AuditLog.objects.count(), HealthScore.all_tenants.count()]
    out = StringIO()

    call_command("simulate_playbook", "onboarding-30", "--days", "30", stdout=out)

    after = [t.count() for t in tables] + [AuditLog.objects.count(), HealthScore.all_tenants.count()]
    assert after == before
    assert mail.outbox == [] and sms_outbox() == []
    text = out.getvalue()
    assert "harbor: " in text and "welcome-email → send: Welcome to CloudGreet, Dana" in text
    assert "activation-high → skip: condition false: usage_level == high (it is low)" in text
    assert "welcome-sms → skip: condition false: has_phone == true (it is false)" in text  # acme has no phone
    assert "3 tenant(s), 3 would start" in text and "nothing sent or written" in text
