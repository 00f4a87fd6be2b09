"""Signup starts the plan's free trial without a card (issue 13, point 3).

Without Stripe the local trial is the whole trial; with Stripe the tick creates a trialing
subscription through the real SDK (tests/stripe_fake.py on the wire) and Stripe's signed
webhooks move it on. The owner sees the days left and “Add a card”, the cockpit the trial's
end, trial-conversion runs from the trial's start, trial_converted starts on the first paid
invoice, and a lapsed trial churns the tenant where billing ops see it.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import stripe
import time_machine
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from billing import payloads
from billing.models import Subscription, Trial
from billing.trials import trial_start
from playbooks.models import Run
from tenants.models import Tenant, TimelineEntry

from .factories import TenantFactory
from .stripe_fake import PRICES, WEBHOOK_SECRET, FakeStripeHttp, use_fake_stripe
from .touchpoint_helpers import tick_at

pytestmark = pytest.mark.django_db

# Sunday 22 Nov 2026, 09:00 UTC; the 14-day trial ends Sunday 6 Dec 2026, 09:00 UTC.
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TRIAL_END = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def trial_settings(settings):
    settings.BILLING_TRIAL_DAYS = 14
    settings.STRIPE_SECRET_KEY = ""  # the tests that want Stripe ask for `with_stripe`
    yield
    FakeStripeHttp.reset()


@pytest.fixture
def with_stripe(settings):
    use_fake_stripe(settings)


def sign_up(client: Client, django_capture_on_commit_callbacks: Any, *, plan: str = "professional") -> Tenant:
    data = {
        "company_name": "Harbor HVAC",
        "owner_name": "Dana Smith",
        "email": "dana@harbor.example",
        "password": "a-long-unusual-passphrase",
        "phone": "",
        "plan": plan,
        "business_type": "Home services",
        "timezone": "America/New_York",
    }
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = client.post("/signup/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Tenant.objects.get(name="Harbor HVAC")


@pytest.fixture
def owner_client(client, django_capture_on_commit_callbacks):
    """A new owner, signed up at NOW and signed in (the signup logs them in)."""
    client.tenant = sign_up(client, django_capture_on_commit_callbacks)
    return client


def relogin(client: Client, at: datetime) -> None:
    """Signs the owner in again at `at` (a session lasts two weeks; so does the trial)."""
    with time_machine.travel(at, tick=False):
        client.force_login(get_user_model().objects.get(email="dana@harbor.example"))


def get(client: Client, url: str, at: datetime) -> str:
    with time_machine.travel(at, tick=False):
        response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def webhook(event_type: str, obj: dict[str, Any], at: datetime) -> None:
    """A signed Stripe event posted to the webhook, as Stripe sends it at `at`."""
    with time_machine.travel(at, tick=False):
        body = payloads.event_payload(event_type=event_type, obj=obj, created=at)
        signature = stripe.WebhookSignature.generate_signature_header(
            body.decode(), WEBHOOK_SECRET, timestamp=int(time.time())
        )
        response = Client().post(
            reverse("stripe-webhook"), data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
        )
    assert response.status_code == 200, response.content


def created_subscription() -> dict[str, Any]:
    """The subscription Stripe answered the app's create call with (what its webhooks carry)."""
    (call,) = FakeStripeHttp.calls("post", "/v1/subscriptions")
    return copy.deepcopy(call.response)


# --- without Stripe: the local trial ------------------------------------------------------------


def test_signup_starts_a_trial_the_owner_sees_with_days_left_and_add_a_card(with_stripe, owner_client, csm):
    tenant = owner_client.tenant
    trial = Trial.objects.for_tenant(tenant).get()
    assert (trial.plan, trial.started_at, trial.ends_at, trial.status) == ("professional", NOW, TRIAL_END, "trialing")
    assert TimelineEntry.objects.for_tenant(tenant).filter(kind="billing.trial_started").get().summary == (
        "Free trial of Professional started: 14 days, until 6 Dec 2026, no card needed"
    )

    billing_page = get(owner_client, "/billing/", NOW)
    assert "Trial — 14 days left" in billing_page
    assert "Your free trial of Professional ends on 6 Dec 2026." in billing_page
    assert f'action="{reverse("billing:card")}"' in billing_page and ">Add a card</button>" in billing_page
    # A running trial is finished with a card, not a second Checkout.
    assert "Choose a plan" not in billing_page

    wizard = get(owner_client, "/onboarding/step/connect_calendar/", NOW)
    assert 'id="notice-trial"' in wizard and "Trial — 14 days left" in wizard and ">Add a card</button>" in wizard

    # 10 days and an hour later, 3 days 23 hours remain: 4 days left, counted in whole days up.
    assert "Trial — 4 days left" in get(owner_client, "/billing/", NOW + timedelta(days=10, hours=1))
    assert "Trial — 1 day left" in get(owner_client, "/billing/", TRIAL_END - timedelta(hours=2))

    staff = Client()
    staff.force_login(csm)
    cockpit = get(staff, f"/admin/customer-success/tenants/{tenant.external_id}/", NOW + timedelta(days=10, hours=1))
    trial_line = cockpit.split('id="trial"')[1].split("</p>")[0]
    assert "Free trial of Professional" in trial_line and "ends 6 Dec 2026 (4 days left)" in trial_line
    assert "no card yet" in trial_line


def test_without_stripe_the_owner_gets_no_card_button_and_no_setting_names(owner_client, caplog):
    page = get(owner_client, "/billing/", NOW)
    assert "Trial — 14 days left" in page and "Add a card" not in page
    wizard = get(owner_client, "/onboarding/step/connect_calendar/", NOW)
    assert "Trial — 14 days left" in wizard and "Add a card" not in wizard

    # A POST anyway (an old tab): words about the account, the setting only in the log.
    with time_machine.travel(NOW, tick=False):
        response = owner_client.post(reverse("billing:card"))
    assert response.status_code == 400
    text = response.content.decode()
    assert "Online payment is not set up yet" in text and "STRIPE_SECRET_KEY" not in text
    assert "STRIPE_SECRET_KEY is not set" in caplog.text
    assert Trial.objects.for_tenant(owner_client.tenant).get().status == "trialing"  # nothing lost


def test_trial_conversion_runs_from_the_trial_start_and_stops_when_the_trial_lapses(owner_client, billing_ops):
    tenant = owner_client.tenant
    tick_at(NOW + MINUTE)
    run = Run.objects.for_tenant(tenant).get(playbook__slug="trial-conversion")
    # Its audience is subscription_status == trialing: the local trial counts, and Day 1 is
    # a day after the trial started.
    assert (run.status, run.anchor) == ("active", NOW)
    quick_win = run.deliveries.get(step__key="quick-win")
    assert quick_win.nominal_at == NOW + timedelta(days=1)

    tick_at(TRIAL_END - MINUTE)
    tenant.refresh_from_db()
    assert tenant.lifecycle_stage != "churned" and Trial.objects.for_tenant(tenant).get().status == "trialing"

    tick_at(TRIAL_END + MINUTE)
    trial = Trial.objects.for_tenant(tenant).get()
    tenant.refresh_from_db()
    assert (trial.status, trial.lapsed_at) == ("lapsed", TRIAL_END)
    # Without Stripe there was no card form to fill in: the lapse is billing ops' to see, not
    # the customer leaving (with Stripe, Stripe's cancellation churns: tests/test_churn.py).
    assert tenant.lifecycle_stage != "churned" and tenant.churned_at is None

    # The owner's page says so and offers the plans again, without a second trial.
    relogin(owner_client, TRIAL_END + timedelta(hours=1))
    page = get(owner_client, "/billing/", TRIAL_END + timedelta(hours=1))
    assert "Your free trial ended on 6 Dec 2026 without a card." in page
    assert "Choose a plan" in page and "free trial" not in page.split("Choose a plan")[1]

    # Billing ops see it among the lapsed trials.
    staff = Client()
    staff.force_login(billing_ops)
    queue = get(staff, "/admin/billing/", TRIAL_END + timedelta(hours=1))
    lapsed = queue.split('id="lapsed-trials"')[1].split("</section>")[0]
    assert "Harbor HVAC" in lapsed and "22 Nov – 6 Dec 2026, lapsed 6 Dec 2026" in lapsed

    # A second tick at the same moment changes nothing.
    entries = TimelineEntry.objects.for_tenant(tenant).count()
    tick_at(TRIAL_END + MINUTE)
    assert TimelineEntry.objects.for_tenant(tenant).count() == entries


# --- a second trial -------------------------------------------------------------------------------


def test_a_second_trial_is_refused_with_the_reason(owner_client):
    tenant = owner_client.tenant
    with pytest.raises(ValidationError) as refused:
        trial_start(tenant=tenant, now=NOW + timedelta(days=30))
    assert refused.value.message_dict["trial"] == [
        "Harbor HVAC already had its free trial (22 Nov 2026 – 6 Dec 2026): there is one free trial per account."
    ]
    assert Trial.objects.for_tenant(tenant).count() == 1


def test_a_tenant_with_a_stripe_subscription_gets_no_trial(with_stripe):
    tenant = TenantFactory(external_id="acme", name="Acme Plumbing", plan="starter")
    obj = payloads.subscription_object(
        subscription_id="sub_acme",
        customer_id="cus_acme",
        status="active",
        price_id=PRICES["starter"],
        unit_amount=1900,
        period_start=NOW - timedelta(days=3),
        tenant="acme",
    )
    webhook("customer.subscription.created", obj, NOW - timedelta(days=3))
    with pytest.raises(ValidationError, match="already has a Stripe subscription: the free trial is for new"):
        trial_start(tenant=tenant, now=NOW)
    assert not Trial.objects.for_tenant(tenant).exists()


def test_checkout_after_a_lapsed_trial_offers_no_second_trial(owner_client, with_stripe):
    tick_at(TRIAL_END + MINUTE)  # the trial was never created in Stripe (no key then): it lapses here
    relogin(owner_client, TRIAL_END + timedelta(hours=1))
    with time_machine.travel(TRIAL_END + timedelta(hours=1), tick=False):
        response = owner_client.post(reverse("billing:checkout"), {"plan": "professional"})
    assert response.status_code == 302 and response.url.startswith("https://checkout.stripe.com/")
    (checkout,) = FakeStripeHttp.calls("post", "/v1/checkout/sessions")
    assert "subscription_data[trial_period_days]" not in checkout.params


# --- with Stripe: the tick creates the subscription -----------------------------------------------


def test_the_tick_creates_one_trialing_subscription_that_stripe_cancels_without_a_card(with_stripe, owner_client):
    tenant = owner_client.tenant
    # Signup called nobody: Stripe is never called inside the signup's transaction.
    assert FakeStripeHttp.requests == []

    tick_at(NOW + MINUTE)
    (create,) = FakeStripeHttp.calls("post", "/v1/subscriptions")
    (customer,) = FakeStripeHttp.calls("post", "/v1/customers")
    assert create.params == {
        "customer": customer.response["id"],
        "items[0][price]": PRICES["professional"],
        "items[0][quantity]": "1",
        "trial_end": str(int(TRIAL_END.timestamp())),
        "trial_settings[end_behavior][missing_payment_method]": "cancel",
        "payment_settings[save_default_payment_method]": "on_subscription",
        "metadata[tenant]": tenant.external_id,
    }
    assert create.idempotency_key == f"trial-subscription:{tenant.external_id}"
    assert create.response["status"] == "trialing"
    trial = Trial.objects.for_tenant(tenant).get()
    assert trial.stripe_subscription_id == create.response["id"] and trial.stripe_error == ""

    tick_at(NOW + 2 * MINUTE)
    assert len(FakeStripeHttp.calls("post", "/v1/subscriptions")) == 1  # created once

    # Stripe's webhook for it: the owner's page now reads Stripe's trial, still 14 days.
    webhook("customer.subscription.created", created_subscription(), NOW + 2 * MINUTE)
    subscription = Subscription.objects.for_tenant(tenant).get()
    assert (subscription.status, subscription.trial_end) == ("trialing", TRIAL_END)
    page = get(owner_client, "/billing/", NOW + timedelta(hours=1))
    assert "Trial — 14 days left" in page and ">Add a card</button>" in page


def test_stripe_down_leaves_the_signup_alone_and_the_tick_retries(
    with_stripe, client, django_capture_on_commit_callbacks
):
    FakeStripeHttp.fail("post", "/v1/subscriptions", status=500, retry=False)
    tenant = sign_up(client, django_capture_on_commit_callbacks)

    tick_at(NOW + MINUTE)
    trial = Trial.objects.for_tenant(tenant).get()
    assert trial.stripe_subscription_id == "" and trial.stripe_attempts == 1
    assert trial.stripe_error.startswith("Stripe could not start the free trial")
    assert trial.stripe_retry_at == NOW + 3 * MINUTE  # a pause of 2 minutes after the first failure

    tick_at(NOW + 2 * MINUTE)
    assert len(FakeStripeHttp.calls("post", "/v1/subscriptions")) == 1  # waiting out the pause

    FakeStripeHttp.failures.clear()
    tick_at(NOW + 3 * MINUTE)
    trial.refresh_from_db()
    assert trial.stripe_subscription_id.startswith("sub_") and trial.stripe_error == ""
    # Every attempt carried the same key: however many, Stripe makes one subscription.
    keys = {c.idempotency_key for c in FakeStripeHttp.calls("post", "/v1/subscriptions")}
    assert keys == {f"trial-subscription:{tenant.external_id}"}


def test_add_a_card_opens_stripes_card_page_and_creates_the_trial_first(with_stripe, owner_client):
    with time_machine.travel(NOW + MINUTE, tick=False):
        response = owner_client.post(reverse("billing:card"))
    assert response.status_code == 302 and response.url.startswith("https://billing.stripe.com/p/session/")
    (portal,) = FakeStripeHttp.calls("post", "/v1/billing_portal/sessions")
    assert portal.params["flow_data[type]"] == "payment_method_update"
    assert portal.params["return_url"].endswith("/billing/")
    assert len(FakeStripeHttp.calls("post", "/v1/subscriptions")) == 1

    # The tick after it finds the trial in Stripe already: no second create call.
    tick_at(NOW + 2 * MINUTE)
    assert len(FakeStripeHttp.calls("post", "/v1/subscriptions")) == 1


AFTER_TRIAL = """
slug: after-trial
name: After the trial
trigger: trial_converted
steps:
  - key: thanks
    day: 0
    channel: task
    owner_role: csm
    title: "Thank {{ tenant_name }} for converting"
"""


def test_trial_converted_is_raised_by_the_first_paid_invoice(with_stripe, owner_client, tmp_path):
    (tmp_path / "after-trial.yaml").write_text(AFTER_TRIAL)
    call_command("load_playbooks", str(tmp_path), stdout=StringIO())
    tenant = owner_client.tenant
    tick_at(NOW + MINUTE)
    subscription = created_subscription()
    webhook("customer.subscription.created", subscription, NOW + 2 * MINUTE)
    customer_id = subscription["customer"]

    def invoice(number: int, amount: int, at: datetime) -> dict[str, Any]:
        return payloads.invoice_object(
            invoice_id=f"in_trial_{number}",
            customer_id=customer_id,
            subscription_id=subscription["id"],
            status="paid",
            amount_due=amount,
            created=at,
            tenant=tenant.external_id,
        )

    # Stripe's $0 invoice at the trial's start is paid, but is not a conversion.
    webhook("invoice.paid", invoice(1, 0, NOW + 2 * MINUTE), NOW + 2 * MINUTE)
    tick_at(NOW + 3 * MINUTE)
    assert Trial.objects.for_tenant(tenant).get().status == "trialing"
    assert not Run.objects.for_tenant(tenant).filter(playbook__slug="after-trial").exists()

    # The card was added; at the trial's end Stripe charges the first month.
    active = copy.deepcopy(subscription)
    active["status"] = "active"
    paid_at = TRIAL_END + 5 * MINUTE
    webhook("customer.subscription.updated", active, TRIAL_END + MINUTE)
    webhook("invoice.paid", invoice(2, 4900, TRIAL_END), paid_at)
    tick_at(TRIAL_END + 10 * MINUTE)

    trial = Trial.objects.for_tenant(tenant).get()
    assert (trial.status, trial.converted_at) == ("converted", paid_at)
    assert TimelineEntry.objects.for_tenant(tenant).get(kind="billing.trial_converted").summary == (
        "Trial converted to paid: first invoice of $49.00 paid"
    )
    run = Run.objects.for_tenant(tenant).get(playbook__slug="after-trial")
    assert (run.trigger, run.anchor, run.status) == ("trial_converted", paid_at, "active")
    tenant.refresh_from_db()
    assert tenant.lifecycle_stage != "churned"
    # trial-conversion stops: its stop condition (subscription_status active) holds.
    conversion = Run.objects.for_tenant(tenant).get(playbook__slug="trial-conversion")
    assert conversion.status == "cancelled" and "subscription_status" in conversion.cancelled_reason

    # The conversion raises its trigger once.
    tick_at(TRIAL_END + 20 * MINUTE)
    assert Run.objects.for_tenant(tenant).filter(playbook__slug="after-trial").count() == 1
