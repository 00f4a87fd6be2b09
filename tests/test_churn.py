"""Churn is recorded (issue 13, point 4): a subscription canceled — at period end, at once,
after failed payments — or a lapsed trial moves the tenant to churned on the effective date,
by the tick; billing ops and the CSM record why from seed 002's taxonomy (a form on the
tenant page and in the billing queue; anything else is a form error in place); the health
back-test then works on churn that came from billing.

Subscriptions move through signed Stripe webhooks fed to the real service (billing_helpers).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from health.backtest import backtest
from health.ingest import events_ingest
from health.services import published_model
from tenants.models import AuditLog, Tenant, TimelineEntry

from .alert_helpers import tenant_at
from .billing_helpers import StripeStory, feed, stripe_settings
from .touchpoint_helpers import tick_at

pytestmark = pytest.mark.django_db

# The period that matters: 1 Nov – 1 Dec 2026 (payloads give every period 30 days).
PERIOD_START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PERIOD_END = PERIOD_START + timedelta(days=30)
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def stripe(settings):
    stripe_settings(settings)


@pytest.fixture
def paying(csm) -> StripeStory:
    """Harbor Dental, paying for Professional since 1 Oct; the current period began 1 Nov."""
    tenant = tenant_at("harbor", signed_up_at=PERIOD_START - timedelta(days=45), name="Harbor Dental", csm_owner=csm)
    story = StripeStory(tenant)
    story.customer(at=PERIOD_START - timedelta(days=31))
    story.status(
        "active",
        at=PERIOD_START - timedelta(days=31),
        event="customer.subscription.created",
        period_start=PERIOD_START - timedelta(days=31),
    )
    story.status("active", at=PERIOD_START, period_start=PERIOD_START)
    return story


def stage(story: StripeStory) -> tuple[str, datetime | None, str]:
    tenant = Tenant.objects.get(pk=story.tenant.pk)
    return tenant.lifecycle_stage, tenant.churned_at, tenant.churn_reason


def deleted(story: StripeStory, *, requested: datetime, ended: datetime, **extra) -> None:
    """customer.subscription.deleted as Stripe sends it: canceled_at is when the cancellation
    was asked for, ended_at when the subscription stopped."""
    obj = story.subscription("canceled", at=PERIOD_START, period_start=PERIOD_START, canceled_at=requested, **extra)
    obj["ended_at"] = int(ended.timestamp())
    feed("customer.subscription.deleted", obj, created=ended)


def test_cancel_at_period_end_churns_on_the_period_end_not_when_it_is_asked(paying):
    asked = PERIOD_START + timedelta(days=10)
    paying.status("active", at=asked, period_start=PERIOD_START, cancel_at_period_end=True, canceled_at=asked)

    tick_at(asked + MINUTE)
    tick_at(PERIOD_END - MINUTE)
    assert stage(paying)[0] != "churned"

    # Stripe's deleted event is late (or lost): the scheduled date alone is enough.
    tick_at(PERIOD_END + MINUTE)
    assert stage(paying) == ("churned", PERIOD_END, "")
    entry = TimelineEntry.objects.for_tenant(paying.tenant).get(kind="tenant.churned")
    assert entry.at == PERIOD_END
    assert entry.summary == "Churned (reason not recorded yet) — Canceled at the end of the billing period."

    # The deleted event arrives: the same date, and nothing said twice.
    deleted(paying, requested=asked, ended=PERIOD_END)
    tick_at(PERIOD_END + 2 * MINUTE)
    assert stage(paying) == ("churned", PERIOD_END, "")
    assert TimelineEntry.objects.for_tenant(paying.tenant).filter(kind="tenant.churned").count() == 1


def test_a_scheduled_cancellation_taken_back_churns_nobody(paying):
    asked = PERIOD_START + timedelta(days=10)
    paying.status("active", at=asked, period_start=PERIOD_START, cancel_at_period_end=True, canceled_at=asked)
    paying.status("active", at=asked + timedelta(days=2), period_start=PERIOD_START)  # “Renew” in the portal
    tick_at(PERIOD_END + MINUTE)
    assert stage(paying)[0] != "churned"


def test_an_immediate_cancellation_churns_on_its_date_and_waits_for_a_reason(paying):
    at = PERIOD_START + timedelta(days=12, hours=3)
    deleted(paying, requested=at, ended=at)
    tick_at(at + timedelta(hours=1))
    assert stage(paying) == ("churned", at, "")
    churn = AuditLog.objects.get(action="tenant.churn", tenant=paying.tenant)
    assert churn.actor_label == "system" and churn.after["churn_reason"] == ""


def test_a_churned_tenant_that_subscribes_again_is_a_customer_again(paying):
    at = PERIOD_START + timedelta(days=12)
    deleted(paying, requested=at, ended=at)
    tick_at(at + MINUTE)
    assert stage(paying)[0] == "churned"

    # Three weeks later the owner comes back through Checkout: a new subscription.
    back = at + timedelta(days=21)
    again = StripeStory(paying.tenant, suffix="harbor-2")
    again.status("active", at=back, event="customer.subscription.created", period_start=back)
    tick_at(back + MINUTE)

    assert stage(paying) == ("adoption", None, "")
    entry = TimelineEntry.objects.for_tenant(paying.tenant).get(kind="tenant.reactivated")
    assert entry.summary == f"Back as a customer: active subscription since {back:%-d %b %Y}"
    audit = AuditLog.objects.get(action="tenant.reactivate", tenant=paying.tenant)
    assert audit.actor_label == "system" and audit.before["lifecycle_stage"] == "churned"
    # The churn is history, not undone: its timeline entry stays; a second tick adds nothing.
    assert TimelineEntry.objects.for_tenant(paying.tenant).filter(kind="tenant.churned").count() == 1
    tick_at(back + 2 * MINUTE)
    assert TimelineEntry.objects.for_tenant(paying.tenant).filter(kind="tenant.reactivated").count() == 1


def test_an_old_live_state_does_not_undo_a_later_churn(paying):
    """The mirror's live subscription predates the churn (a lost deleted event, churn marked
    by its scheduled date): nothing to reactivate."""
    paying.status("active", at=PERIOD_START + MINUTE, period_start=PERIOD_START, cancel_at_period_end=True)
    tick_at(PERIOD_END + MINUTE)
    assert stage(paying)[0] == "churned"
    tick_at(PERIOD_END + 2 * MINUTE)
    assert stage(paying)[0] == "churned"


def test_a_cancellation_after_failed_payments_defaults_to_payment_failure(paying):
    paying.go_past_due(at=PERIOD_END)
    ended = PERIOD_END + timedelta(days=14)
    deleted(paying, requested=ended, ended=ended)
    tick_at(ended + MINUTE)
    assert stage(paying) == ("churned", ended, "payment_failure")
    assert TimelineEntry.objects.for_tenant(paying.tenant).get(kind="tenant.churned").summary == (
        "Churned: Payment failure — Canceled after failed payments."
    )


def test_a_stripe_trial_that_ends_without_a_card_is_a_lapsed_trial(client, billing_ops):
    signup = PERIOD_START
    trial_end = signup + timedelta(days=14)
    tenant = tenant_at("kite", signed_up_at=signup, name="Kite Salon")
    story = StripeStory(tenant, plan="starter")
    story.status("trialing", at=signup + MINUTE, event="customer.subscription.created", trial_end=trial_end)
    tick_at(signup + 2 * MINUTE)
    assert stage(story)[0] != "churned"

    # missing_payment_method = cancel: Stripe cancels it at the trial's end.
    obj = story.subscription("canceled", at=signup, trial_end=trial_end, canceled_at=trial_end)
    feed("customer.subscription.deleted", obj, created=trial_end + MINUTE)
    tick_at(trial_end + 5 * MINUTE)
    assert stage(story) == ("churned", trial_end, "")

    client.force_login(billing_ops)
    with time_machine.travel(trial_end + timedelta(hours=1), tick=False):
        page = client.get("/admin/billing/").content.decode()
    lapsed = page.split('id="lapsed-trials"')[1].split("</section>")[0]
    assert "Kite Salon" in lapsed and "1 Nov – 15 Nov 2026, lapsed 15 Nov 2026" in lapsed
    churned = page.split('id="churned"')[1].split("</section>")[0]
    assert "Kite Salon" in churned and "reason not recorded" in churned


# --- recording the reason ---------------------------------------------------------------------------


@pytest.fixture
def churned(paying) -> Tenant:
    at = PERIOD_START + timedelta(days=12)
    deleted(paying, requested=at, ended=at)
    tick_at(at + MINUTE)
    return Tenant.objects.get(pk=paying.tenant.pk)


def churn_url(tenant: Tenant) -> str:
    return reverse("cockpit:churn-reason", args=[tenant.external_id])


def test_the_csm_records_the_reason_on_the_tenant_page(client, csm, churned):
    client.force_login(csm)
    page = client.get(f"/admin/customer-success/tenants/{churned.external_id}/").content.decode()
    block = page.split('id="churn"')[1].split("</div>")[0]
    assert "Churned 13 Nov 2026" in block and "Reason not recorded yet" in block
    assert 'value="competitor">Switched to a competitor</option>' in block

    response = client.post(churn_url(churned), {"reason": "competitor", "note": "Moved to RingCentral"})
    assert response.status_code == 302 and response.url == f"/admin/customer-success/tenants/{churned.external_id}/"
    churned.refresh_from_db()
    assert (churned.churn_reason, churned.churn_note, churned.churned_at) == (
        "competitor",
        "Moved to RingCentral",
        PERIOD_START + timedelta(days=12),  # the date stays the cancellation's
    )
    audit = AuditLog.objects.get(action="tenant.churn_reason")
    assert audit.actor == csm and (audit.before["churn_reason"], audit.after["churn_reason"]) == ("", "competitor")
    assert TimelineEntry.objects.for_tenant(churned).get(kind="tenant.churn_reason").summary == (
        "Churn reason recorded: Switched to a competitor — Moved to RingCentral"
    )
    page = client.get(f"/admin/customer-success/tenants/{churned.external_id}/").content.decode()
    assert "Reason: <strong>Switched to a competitor</strong> — Moved to RingCentral" in page


def test_billing_ops_record_the_reason_in_the_queue_with_htmx(client, billing_ops, churned):
    client.force_login(billing_ops)
    queue = client.get("/admin/billing/").content.decode()
    assert f'id="churn-{churned.external_id}"' in queue.split('id="churned"')[1]

    response = client.post(
        churn_url(churned), {"reason": "price", "note": "", "next": "/admin/billing/#churned"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith(f'<form method="post" class="churn-form" id="churn-{churned.external_id}"')
    assert "Churn reason recorded: Price" in fragment and 'value="price" selected' in fragment
    churned.refresh_from_db()
    assert churned.churn_reason == "price"


def test_a_reason_outside_the_taxonomy_is_a_form_error_in_place(client, billing_ops, churned):
    client.force_login(billing_ops)
    response = client.post(churn_url(churned), {"reason": "bored", "note": "x"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    fragment = response.content.decode()
    assert f'id="churn-{churned.external_id}"' in fragment and "<html" not in fragment
    assert "“bored” is not a churn reason: choose one from the list." in fragment

    # Without JavaScript: the same form, with its error, on a page of its own.
    page = client.post(churn_url(churned), {"reason": "", "note": "x"})
    assert page.status_code == 422 and "Choose why they left." in page.content.decode()
    churned.refresh_from_db()
    assert churned.churn_reason == "" and not AuditLog.objects.filter(action="tenant.churn_reason").exists()


def test_a_reason_for_a_tenant_that_has_not_churned_is_refused(client, csm, paying):
    client.force_login(csm)
    response = client.post(churn_url(paying.tenant), {"reason": "price"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Harbor Dental has not churned: record the reason once the cancellation takes effect." in (
        response.content.decode()
    )
    assert stage(paying)[0] != "churned"


def test_tenant_users_cannot_record_a_reason(client, owner_a, tenant_a):
    client.force_login(owner_a)
    assert client.post(churn_url(tenant_a), {"reason": "price"}).status_code == 403


# --- the back-test on churn from billing ---------------------------------------------------------------


def test_the_backtest_works_on_churn_recorded_from_stripe_cancellations():
    """Four tenants fade and cancel in Stripe; four keep using the product and paying. The
    churn dates come from the cancellations (the tick), not from a hand-written row."""
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    quitters = []
    for n in range(4):
        quitter = tenant_at(f"quit-{n}", signed_up_at=now - timedelta(days=60), onboarding=False)
        keeper = tenant_at(f"keep-{n}", signed_up_at=now - timedelta(days=60), onboarding=False)
        events = []
        for days_ago in range(60, 0, -1):
            at = (now - timedelta(days=days_ago)).isoformat()
            events += [{"tenant": keeper.external_id, "name": f"feature.f{k}", "occurred_at": at} for k in range(5)]
            if days_ago > 30 + n:  # the quitters fade out three to four weeks before the end
                events += [{"tenant": quitter.external_id, "name": "feature.f1", "occurred_at": at}]
        events_ingest(events=events, bound_tenant=None, now=now)
        for tenant in (quitter, keeper):
            story = StripeStory(tenant)
            story.status(
                "active",
                at=now - timedelta(days=50),
                event="customer.subscription.created",
                period_start=now - timedelta(days=50),
            )
        ended = now - timedelta(days=5 + n)
        obj = StripeStory(quitter).subscription("canceled", at=ended, canceled_at=ended)
        feed("customer.subscription.deleted", obj, created=ended)
        quitters.append((quitter, ended))
    tick_at(now)

    for quitter, ended in quitters:
        quitter.refresh_from_db()
        assert (quitter.lifecycle_stage, quitter.churned_at) == ("churned", ended)
    report = backtest(model=published_model(), now=now, horizon_days=21)
    assert (report.tenants, report.churned) == (8, 4)
    assert report.auc == 1.0
