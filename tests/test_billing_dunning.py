"""Past due, end to end through the real tick: the subscription_past_due alert for billing ops,
the dunning playbook's day-0 email and SMS carrying a portal link that opens Stripe's portal,
and — once the invoice is paid — the alert resolved and the rest of the dunning cancelled.
Also pausing and resuming dunning, a new episode months later, and the expansion rule."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client

from billing.models import Subscription
from billing.services import subscription_dunning_pause, subscription_dunning_resume
from core.ticks import run_tick
from messaging import sms
from playbooks.models import Delivery, Run, Trigger

from .alert_helpers import NOW, active_of, alerts_of, ingest, tenant_at
from .billing_helpers import StripeStory, stripe_settings
from .stripe_fake import FakeStripeHttp

pytestmark = pytest.mark.django_db
LINK_RE = re.compile(r"https?://[^\s]+/billing/portal/[^\s]+/")


@pytest.fixture
def stripe(settings):
    stripe_settings(settings)
    settings.STRIPE_SECRET_KEY = "sk_test_dunning"
    settings.STRIPE_HTTP_CLIENT = "tests.stripe_fake.FakeStripeHttp"
    FakeStripeHttp.reset()
    return settings


def past_due_tenant(csm, *, at=NOW):
    tenant = tenant_at(
        "harbor",
        signed_up_at=at - timedelta(days=90),
        onboarding=False,
        owner_name="Dana Reyes",
        owner_email="dana@harbor.example",
        owner_phone="+15555550123",
        sms_consent_at=at - timedelta(days=90),
        csm_owner=csm,
    )
    ingest(tenant, "call.handled", at - timedelta(hours=2), count=3, now=at - timedelta(hours=1))
    story = StripeStory(tenant)
    story.customer(at=at - timedelta(days=60))
    story.status("active", at=at - timedelta(days=60), event="customer.subscription.created")
    return tenant, story


def dunning_runs(tenant):
    return list(Run.objects.for_tenant(tenant).filter(trigger=Trigger.SUBSCRIPTION_PAST_DUE).order_by("id"))


def test_past_due_alerts_billing_ops_and_sends_day_0_email_and_sms_with_a_working_portal_link(stripe, csm):
    tenant, story = past_due_tenant(csm)
    story.go_past_due(at=NOW)
    mail.outbox.clear()

    run_tick(now=NOW + timedelta(minutes=1))

    [alert] = active_of(tenant, "subscription_past_due")
    assert alert.route == "billing_ops" and alert.severity == "P1"
    assert alert.rationale.startswith("Past due for 0 days, $49.00 due, attempt 1, next retry")
    [run] = dunning_runs(tenant)
    assert run.playbook.slug == "dunning" and run.status == Run.Status.ACTIVE
    [email] = [m for m in mail.outbox if m.to == ["dana@harbor.example"]]
    assert email.subject == "Your CloudGreet payment didn't go through"
    [text] = [m.body for m in sms.outbox if m.to == "+15555550123"]
    email_link = LINK_RE.search(email.body).group(0)
    assert LINK_RE.search(text).group(0) == email_link

    # The link works for someone who is not signed in (the owner reading on a phone): a fresh
    # Stripe portal session for this tenant's customer, and a redirect to it.
    response = Client().get(urlsplit(email_link).path)
    assert response.status_code == 302
    [portal] = [r for r in FakeStripeHttp.requests if r.path == "/v1/billing_portal/sessions"]
    assert portal.params["customer"] == "cus_harbor"
    assert response["Location"].startswith("https://billing.stripe.com/p/session/test_bps_fake")

    # Paid: Stripe sends invoice.paid (the subscription's own update may come later, or never).
    story.invoice("invoice.paid", at=NOW + timedelta(days=2))
    run_tick(now=NOW + timedelta(days=2, minutes=1))

    [resolved] = alerts_of(tenant, "subscription_past_due")
    assert resolved.status == "resolved" and "the subscription is paid" in resolved.resolution
    run = Run.all_tenants.get(pk=run.pk)
    assert run.status == Run.Status.CANCELLED and "subscription_status" in run.cancelled_reason
    remaining = Delivery.objects.for_tenant(tenant).filter(run=run).exclude(step__day=0)
    assert remaining.count() == 6 and {d.status for d in remaining} == {Delivery.Status.CANCELLED}


def test_the_next_tick_starts_nothing_twice(stripe, csm):
    tenant, story = past_due_tenant(csm)
    story.go_past_due(at=NOW)
    run_tick(now=NOW + timedelta(minutes=1))
    sent = len(mail.outbox), len(sms.outbox)
    run_tick(now=NOW + timedelta(minutes=2))
    run_tick(now=NOW + timedelta(minutes=3))
    assert len(dunning_runs(tenant)) == 1 and len(active_of(tenant, "subscription_past_due")) == 1
    assert (len(mail.outbox), len(sms.outbox)) == sent


def test_paused_dunning_stops_its_messages_and_resume_sends_only_what_is_still_due(stripe, csm, billing_ops):
    tenant, story = past_due_tenant(csm)
    story.go_past_due(at=NOW)
    run_tick(now=NOW + timedelta(minutes=1))
    subscription = Subscription.objects.for_tenant(tenant).get()

    subscription_dunning_pause(subscription=subscription, note="pays on Friday", actor=billing_ops, now=NOW)
    run_tick(now=NOW + timedelta(minutes=2))
    [paused_run] = dunning_runs(tenant)
    assert paused_run.status == Run.Status.CANCELLED and "dunning_paused" in paused_run.cancelled_reason
    assert active_of(tenant, "subscription_past_due"), "the alert stays open: the money is still owed"

    # Resumed on day 5: days 0 and 3 are past (not resent); day 7 and 14 are scheduled.
    subscription_dunning_resume(subscription=subscription, actor=billing_ops, now=NOW + timedelta(days=5))
    mail.outbox.clear()
    run_tick(now=NOW + timedelta(days=5, minutes=1))
    first, second = dunning_runs(tenant)
    assert second.status == Run.Status.ACTIVE and second.anchor == first.anchor
    scheduled = Delivery.objects.for_tenant(tenant).filter(run=second, status=Delivery.Status.SCHEDULED)
    assert sorted({d.step.day for d in scheduled}) == [7, 14]
    assert not [m for m in mail.outbox if m.to == ["dana@harbor.example"]]


def test_a_new_past_due_episode_months_later_gets_its_own_dunning(stripe, csm):
    tenant, story = past_due_tenant(csm)
    story.go_past_due(at=NOW)
    run_tick(now=NOW + timedelta(minutes=1))
    story.invoice("invoice.paid", at=NOW + timedelta(days=1))
    run_tick(now=NOW + timedelta(days=1, minutes=1))

    later = NOW + timedelta(days=60)
    story.invoice("invoice.payment_failed", at=later, attempt=1, invoice_number=2, next_attempt=timedelta(days=3))
    story.status("past_due", at=later + timedelta(seconds=1))
    run_tick(now=later + timedelta(minutes=1))

    first, second = dunning_runs(tenant)
    assert first.status == Run.Status.CANCELLED and second.status == Run.Status.ACTIVE
    assert len(alerts_of(tenant, "subscription_past_due")) == 2


def test_expansion_signal_fires_at_80_percent_of_the_plan_limit(settings, csm):
    settings.BILLING_PLAN_LIMITS = {"starter": 100, "professional": 5000, "business": None}
    tenant = tenant_at("busy", signed_up_at=NOW - timedelta(days=60), onboarding=False, plan="starter")
    ingest(tenant, "call.handled", NOW - timedelta(days=3), count=79, now=NOW - timedelta(days=2))
    run_tick(now=NOW)
    assert not alerts_of(tenant, "expansion_signal")

    ingest(tenant, "call.handled", NOW - timedelta(hours=1), count=1, now=NOW)
    run_tick(now=NOW + timedelta(minutes=1))
    [alert] = active_of(tenant, "expansion_signal")
    assert alert.rationale == "80 of 100 call.handled in 30 days (80 % of the starter plan)"


DUNNING_SUBJECTS = ("Your CloudGreet payment", "Reminder: please update", "Action needed:", "Final notice:")


def owner_mail(tenant):
    """The dunning emails the owner got (other playbooks may write to them too)."""
    return [m for m in mail.outbox if m.to == [tenant.owner_email] and m.subject.startswith(DUNNING_SUBJECTS)]


def walk(start, days, step=timedelta(hours=6)):
    moment = start
    while moment < start + timedelta(days=days):
        moment += step
        run_tick(now=moment)


def paused_after_day_0(csm, billing_ops):
    """Past due, the day-0 messages sent at the first tick, then billing ops pause dunning."""
    tenant, story = past_due_tenant(csm)
    story.go_past_due(at=NOW)
    mail.outbox.clear()
    run_tick(now=NOW + timedelta(minutes=1))
    subscription = Subscription.objects.for_tenant(tenant).get()
    subscription_dunning_pause(subscription=subscription, note="pays Friday", actor=billing_ops, now=NOW)
    return tenant, subscription


def test_pause_and_resume_the_same_day_never_resends_day_0(stripe, csm, billing_ops):
    tenant, subscription = paused_after_day_0(csm, billing_ops)
    run_tick(now=NOW + timedelta(hours=1))
    subscription_dunning_resume(subscription=subscription, actor=billing_ops, now=NOW + timedelta(hours=2))
    run_tick(now=NOW + timedelta(hours=2, minutes=1))
    assert len(owner_mail(tenant)) == 1 and len([m for m in sms.outbox if m.to == "+15555550123"]) == 1
    _paused, second = dunning_runs(tenant)
    assert sorted({d.step.day for d in Delivery.objects.for_tenant(tenant).filter(run=second)}) == [3, 7, 14]


def test_an_older_past_due_event_arriving_late_does_not_start_the_episode_again(stripe, csm):
    tenant, story = past_due_tenant(csm)
    story.invoice("invoice.payment_failed", at=NOW, attempt=1, next_attempt=timedelta(days=3))
    story.status("past_due", at=NOW + timedelta(hours=2))
    run_tick(now=NOW + timedelta(hours=2, minutes=1))
    story.status("past_due", at=NOW + timedelta(seconds=1))  # Stripe's retry of an earlier delivery
    mail.outbox.clear()
    walk(NOW + timedelta(hours=2, minutes=1), 16)
    assert len(dunning_runs(tenant)) == 1
    subjects = [m.subject for m in owner_mail(tenant)]
    assert len(subjects) == len(set(subjects)) == 3  # days 3, 7 and the final notice, once each


def test_pause_and_resume_between_ticks_sends_each_step_once(stripe, csm, billing_ops):
    tenant, subscription = paused_after_day_0(csm, billing_ops)
    subscription_dunning_resume(subscription=subscription, actor=billing_ops, now=NOW + timedelta(seconds=30))
    walk(NOW + timedelta(minutes=1), 16)
    subjects = [m.subject for m in owner_mail(tenant)]
    assert len(subjects) == len(set(subjects)) == 4  # day 0, 3, 7 and the final notice
