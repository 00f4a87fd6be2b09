"""The owner's side of billing: Stripe Checkout, “Manage billing”, the signed portal links in
dunning messages, and the billing page (CONTRACTS.md → Webhooks, Pages).

Stripe is the real SDK talking to tests/stripe_fake.py (a `stripe.HTTPClient` answering with
Stripe's fixture objects); the subscriptions the pages show are fed by signed webhooks.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe
import time_machine
from django.conf import settings
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from billing import payloads
from billing.models import Customer, Subscription
from billing.selectors import PORTAL_SALT, portal_url
from tenants.models import AuditLog, Tenant

from .stripe_fake import PRICES, WEBHOOK_SECRET, FakeStripeHttp, use_fake_stripe

pytestmark = pytest.mark.django_db

SECRET = WEBHOOK_SECRET
PRICE_STARTER, PRICE_PRO, PRICE_BUSINESS = PRICES["starter"], PRICES["professional"], PRICES["business"]
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def stripe_settings(settings):
    use_fake_stripe(settings)
    settings.BILLING_TRIAL_DAYS = 14
    yield
    FakeStripeHttp.reset()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def webhook(event_type: str, obj: dict[str, Any], created: datetime) -> None:
    body = payloads.event_payload(event_type=event_type, obj=obj, created=created)
    signature = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, timestamp=int(time.time()))
    response = Client().post(
        reverse("stripe-webhook"), data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    assert response.status_code == 200, response.content


def subscription_webhook(status: str, *, tenant: str = "acme", customer: str = "cus_acme", **kw: Any) -> None:
    kw.setdefault("price_id", PRICE_PRO)
    kw.setdefault("unit_amount", 4900)
    kw.setdefault("period_start", T0)
    obj = payloads.subscription_object(
        subscription_id=f"sub_{tenant}", customer_id=customer, status=status, tenant=tenant, **kw
    )
    webhook("customer.subscription.updated", obj, kw["period_start"])


def customer_webhook(*, customer: str = "cus_acme", tenant: str = "acme", payment_method: Any = None) -> None:
    obj = payloads.customer_object(
        customer_id=customer,
        email="owner@acme.test",
        name="Acme Plumbing",
        tenant=tenant,
        payment_method=payment_method,
    )
    webhook("customer.updated", obj, T0)


def checkout(client: Client, plan: str = "professional"):
    return client.post(reverse("billing:checkout"), {"plan": plan})


def path_of(url: str) -> str:
    return urlsplit(url).path


# --- checkout ------------------------------------------------------------------------------------


def test_checkout_creates_the_customer_then_the_session_and_redirects_to_it(owner_a, tenant_a):
    with time_machine.travel(NOW, tick=False):
        response = checkout(signed_in(owner_a))

    create_customer, create_session = FakeStripeHttp.requests
    assert response.status_code == 302
    assert response["Location"] == create_session.response["url"]
    assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")

    assert (create_customer.method, create_customer.path, create_customer.status) == ("post", "/v1/customers", 200)
    assert create_customer.params == {
        "email": tenant_a.owner_email,
        "name": "Acme Plumbing",
        "metadata[tenant]": "acme",
    }
    assert create_customer.idempotency_key == "customer-create:acme"
    assert create_customer.stripe_version == settings.STRIPE_API_VERSION == "2026-10-28.endive"
    assert create_customer.headers["Authorization"] == "Bearer sk_test_x"
    customer_id = create_customer.response["id"]

    assert (create_session.method, create_session.path, create_session.status) == (
        "post",
        "/v1/checkout/sessions",
        200,
    )
    assert create_session.params == {
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": "acme",
        "line_items[0][price]": PRICE_PRO,
        "line_items[0][quantity]": "1",
        "subscription_data[metadata][tenant]": "acme",
        "subscription_data[trial_period_days]": "14",
        "metadata[tenant]": "acme",
        "success_url": f"{settings.SITE_URL}/billing/?checkout=done",
        "cancel_url": f"{settings.SITE_URL}/billing/?checkout=cancelled",
    }
    assert create_session.idempotency_key == "checkout:acme:professional:202611200930"
    assert create_session.stripe_version == settings.STRIPE_API_VERSION

    customer = Customer.objects.get()
    assert (customer.stripe_id, customer.tenant, customer.email) == (customer_id, tenant_a, tenant_a.owner_email)
    audit = AuditLog.objects.get(action="billing.checkout")
    assert (audit.actor, audit.tenant_id, audit.after) == (owner_a, tenant_a.id, {"plan": "professional"})
    assert Subscription.all_tenants.count() == 0  # the webhook brings it


def test_a_second_checkout_reuses_the_customer_and_a_double_click_gets_the_same_session(owner_a, tenant_a):
    client = signed_in(owner_a)
    with time_machine.travel(NOW, tick=False):
        first = checkout(client)
        double_click = checkout(client)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        later = checkout(client, plan="business")

    assert [r.path for r in FakeStripeHttp.requests] == [
        "/v1/customers",
        "/v1/checkout/sessions",
        "/v1/checkout/sessions",
        "/v1/checkout/sessions",
    ]
    assert Customer.objects.count() == 1
    assert first["Location"] == double_click["Location"]  # Stripe replayed the idempotent request
    assert later["Location"] != first["Location"]
    sessions = FakeStripeHttp.calls("post", "/v1/checkout/sessions")
    assert {s.params["customer"] for s in sessions} == {Customer.objects.get().stripe_id}
    assert sessions[2].params["line_items[0][price]"] == PRICE_BUSINESS
    assert sessions[2].idempotency_key == "checkout:acme:business:202611200935"


def test_a_customer_linked_by_a_webhook_is_used_for_checkout(owner_a, tenant_a):
    customer_webhook(customer="cus_from_stripe")
    response = checkout(signed_in(owner_a))
    assert response.status_code == 302
    [create_session] = FakeStripeHttp.requests
    assert create_session.params["customer"] == "cus_from_stripe"


def test_an_unknown_plan_is_refused_without_calling_stripe(owner_a, tenant_a):
    response = checkout(signed_in(owner_a), plan="enterprise")
    assert response.status_code == 400
    assert "“enterprise” is not a plan: choose starter, professional, business." in response.content.decode()
    assert FakeStripeHttp.requests == []
    assert Customer.objects.count() == 0
    assert not AuditLog.objects.filter(action="billing.checkout").exists()


def test_a_plan_without_a_price_names_the_setting_in_the_log_not_to_the_owner(owner_a, tenant_a, settings, caplog):
    settings.STRIPE_PRICE_PROFESSIONAL = ""
    response = checkout(signed_in(owner_a))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Online payment is not set up yet" in page and "STRIPE_PRICE" not in page
    assert "The Professional plan has no Stripe price: set STRIPE_PRICE_PROFESSIONAL." in caplog.text
    assert FakeStripeHttp.requests == []
    assert Customer.objects.count() == 0


def test_without_a_secret_key_checkout_says_payment_is_not_set_up(owner_a, tenant_a, settings, caplog):
    settings.STRIPE_SECRET_KEY = ""
    response = checkout(signed_in(owner_a))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Online payment is not set up yet" in page and "STRIPE_SECRET_KEY" not in page
    assert "Billing is not connected: STRIPE_SECRET_KEY is not set." in caplog.text
    assert FakeStripeHttp.requests == []
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    ("status", "error_type", "message", "shown"),
    [
        (402, "card_error", "Your card was declined.", "Stripe could not start Checkout: Your card was declined."),
        (400, "card_error", "Your card was declined.", "Stripe could not start Checkout: Your card was declined."),
        (
            400,
            "invalid_request_error",
            "No such price: price_professional_test",
            "Stripe could not start Checkout: No such price: price_professional_test.",
        ),
        (500, "api_error", "An unknown error occurred", "Stripe could not start Checkout: An unknown error occurred."),
    ],
    ids=["402 card_error", "400 card_error", "400 invalid_request", "500 api_error"],
)
def test_stripe_refusing_the_session_shows_a_readable_error_and_records_no_checkout(
    owner_a, tenant_a, status, error_type, message, shown
):
    FakeStripeHttp.fail("post", "/v1/checkout/sessions", status=status, type=error_type, message=message)
    response = checkout(signed_in(owner_a))

    assert response.status_code == 400
    assert escape(shown) in response.content.decode()
    assert "Choose a plan" in response.content.decode()  # the page, not a bare error
    assert [(r.path, r.status) for r in FakeStripeHttp.requests] == [
        ("/v1/customers", 200),
        ("/v1/checkout/sessions", status),
    ]
    assert not AuditLog.objects.filter(action="billing.checkout").exists()
    assert Subscription.all_tenants.count() == 0
    # The customer Stripe did create is kept (it exists there): the next try reuses it.
    [customer] = Customer.objects.all()
    assert customer.stripe_id == FakeStripeHttp.requests[0].response["id"]
    FakeStripeHttp.failures.clear()
    assert checkout(signed_in(owner_a)).status_code == 302
    assert len(FakeStripeHttp.calls("post", "/v1/customers")) == 1


def test_stripe_failing_to_create_the_customer_writes_nothing_and_retries_with_one_key(owner_a, tenant_a):
    FakeStripeHttp.fail("post", "/v1/customers", status=500, message="An unknown error occurred", retry=None)
    response = checkout(signed_in(owner_a))

    assert response.status_code == 400
    assert "Stripe could not create the customer: An unknown error occurred." in response.content.decode()
    # the SDK retried the 500 twice, with the same idempotency key: one customer at most
    attempts = FakeStripeHttp.requests
    assert [(r.path, r.status) for r in attempts] == [("/v1/customers", 500)] * 3
    assert {r.idempotency_key for r in attempts} == {"customer-create:acme"}
    assert Customer.objects.count() == 0
    assert not AuditLog.objects.filter(action="billing.checkout").exists()


def test_checkout_is_the_owners_only(personas, tenant_a, tenant_b):
    member = checkout(personas.client_for("member_a"))
    assert member.status_code == 404
    staff = checkout(personas.client_for("billing_ops"))
    assert staff.status_code == 404
    anonymous = checkout(personas.client_for("anonymous"))
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"{reverse('login')}?next={reverse('billing:checkout')}"
    assert FakeStripeHttp.requests == []

    # owner B checks out for their own tenant, never tenant A
    assert checkout(personas.client_for("owner_b")).status_code == 302
    customers, sessions = FakeStripeHttp.requests
    assert customers.params["metadata[tenant]"] == sessions.params["metadata[tenant]"] == "globex"
    assert sessions.params["subscription_data[metadata][tenant]"] == "globex"
    assert Customer.objects.get().tenant == tenant_b
    assert personas.client_for("owner_a").get(reverse("billing:checkout")).status_code == 405


@pytest.mark.parametrize("status", ["active", "trialing", "past_due"])
def test_a_tenant_with_a_live_subscription_cannot_check_out_again(owner_a, tenant_a, status):
    subscription_webhook(status, trial_end=T0 + 14 * DAY if status == "trialing" else None)
    response = checkout(signed_in(owner_a), plan="business")
    assert response.status_code == 400
    label = {"active": "active", "trialing": "trialing", "past_due": "past due"}[status]
    assert (
        f"Acme Plumbing already has a subscription ({label}): change the plan in “Manage billing”."
        in response.content.decode()
    )
    assert FakeStripeHttp.requests == []


def test_a_tenant_whose_subscription_ended_may_subscribe_again(owner_a, tenant_a):
    subscription_webhook("canceled", canceled_at=T0 + DAY)
    response = checkout(signed_in(owner_a))
    assert response.status_code == 302
    [create_session] = FakeStripeHttp.requests  # the customer is known from the webhook
    assert create_session.params["customer"] == "cus_acme"


# --- manage billing ------------------------------------------------------------------------------


def test_manage_billing_opens_a_portal_session_for_the_tenants_customer(owner_a, tenant_a):
    subscription_webhook("active")
    with time_machine.travel(NOW, tick=False):
        response = signed_in(owner_a).post(reverse("billing:manage"))

    [portal] = FakeStripeHttp.requests
    assert (portal.method, portal.path, portal.status) == ("post", "/v1/billing_portal/sessions", 200)
    assert portal.params == {"customer": "cus_acme", "return_url": f"{settings.SITE_URL}/billing/"}
    assert portal.idempotency_key == "portal:cus_acme:20261120093000"
    assert portal.stripe_version == settings.STRIPE_API_VERSION
    assert response.status_code == 302
    assert response["Location"] == portal.response["url"]
    assert response["Location"].startswith("https://billing.stripe.com/p/session/")


def test_manage_billing_without_a_customer_says_so(owner_a, tenant_a):
    response = signed_in(owner_a).post(reverse("billing:manage"))
    assert response.status_code == 400
    assert "Acme Plumbing has no Stripe customer yet: start a subscription first." in response.content.decode()
    assert FakeStripeHttp.requests == []


def test_manage_billing_when_stripe_fails_shows_the_error(owner_a, tenant_a):
    subscription_webhook("active")
    FakeStripeHttp.fail("post", "/v1/billing_portal/sessions", status=503, message="Stripe is down")
    response = signed_in(owner_a).post(reverse("billing:manage"))
    assert response.status_code == 400
    assert "Stripe could not open the billing portal: Stripe is down." in response.content.decode()


def test_manage_billing_is_the_owners_only(personas, tenant_a):
    subscription_webhook("active")
    assert personas.client_for("member_a").post(reverse("billing:manage")).status_code == 404
    assert personas.client_for("anonymous").post(reverse("billing:manage")).status_code == 302
    # owner B has no customer of their own; tenant A's is not theirs to open
    response = personas.client_for("owner_b").post(reverse("billing:manage"))
    assert response.status_code == 400
    assert "Globex Dental has no Stripe customer yet" in response.content.decode()
    assert FakeStripeHttp.requests == []


# --- portal links --------------------------------------------------------------------------------


def test_no_portal_link_without_a_customer(tenant_a):
    assert portal_url(tenant=tenant_a) is None


def test_a_portal_link_opens_a_fresh_portal_session_for_an_anonymous_click(tenant_a):
    subscription_webhook("past_due")
    url = portal_url(tenant=tenant_a)
    assert url.startswith(f"{settings.SITE_URL}/billing/portal/")

    response = Client().get(path_of(url))

    [portal] = FakeStripeHttp.requests
    assert (portal.path, portal.params) == (
        "/v1/billing_portal/sessions",
        {"customer": "cus_acme", "return_url": f"{settings.SITE_URL}/login/"},
    )
    assert response.status_code == 302
    assert response["Location"] == portal.response["url"]


def _token(url: str) -> str:
    return path_of(url).rstrip("/").rsplit("/", 1)[1]


def test_a_tampered_or_foreign_token_is_a_404(tenant_a, tenant_b):
    subscription_webhook("active")
    subscription_webhook("active", tenant="globex", customer="cus_globex")
    token = _token(portal_url(tenant=tenant_a))
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    unsalted = signing.dumps({"t": "acme", "c": "cus_acme"}, compress=True)
    # a genuine token naming another tenant's customer
    crossed = signing.dumps({"t": "acme", "c": "cus_globex"}, salt=PORTAL_SALT, compress=True)
    for bad in [flipped, unsalted, crossed, "garbage"]:
        assert Client().get(reverse("billing-portal-for-tenant", args=[bad])).status_code == 404, bad
    assert FakeStripeHttp.requests == []


def test_an_expired_link_is_a_404_and_one_a_month_old_still_works(tenant_a):
    subscription_webhook("past_due")
    with time_machine.travel(NOW, tick=False):
        path = path_of(portal_url(tenant=tenant_a))
    max_age = settings.BILLING_PORTAL_LINK_MAX_AGE_DAYS
    assert max_age == 90

    with time_machine.travel(NOW + timedelta(days=30), tick=False):
        first = Client().get(path)
    with time_machine.travel(NOW + timedelta(days=30, minutes=1), tick=False):
        second = Client().get(path)
    with time_machine.travel(NOW + timedelta(days=max_age) - timedelta(minutes=1), tick=False):
        last_day = Client().get(path)
    with time_machine.travel(NOW + timedelta(days=max_age, minutes=1), tick=False):
        expired = Client().get(path)

    assert (first.status_code, second.status_code, last_day.status_code, expired.status_code) == (302, 302, 302, 404)
    sessions = FakeStripeHttp.calls("post", "/v1/billing_portal/sessions")
    assert len(sessions) == 3  # a fresh session on every click
    assert len({first["Location"], second["Location"], last_day["Location"]}) == 3
    assert [s.idempotency_key for s in sessions] == [
        "portal:cus_acme:20261220093000",
        "portal:cus_acme:20261220093100",
        "portal:cus_acme:20270218092900",
    ]


def test_a_link_for_a_customer_the_tenant_no_longer_has_is_a_404(tenant_a):
    subscription_webhook("active")
    old = path_of(portal_url(tenant=tenant_a))
    # the tenant moved to another Stripe customer
    Customer.objects.filter(stripe_id="cus_acme").update(tenant=None)
    customer_webhook(customer="cus_acme_2")
    assert Customer.objects.get(tenant=tenant_a).stripe_id == "cus_acme_2"

    assert Client().get(old).status_code == 404
    assert FakeStripeHttp.requests == []
    assert Client().get(path_of(portal_url(tenant=tenant_a))).status_code == 302
    [portal] = FakeStripeHttp.requests
    assert portal.params["customer"] == "cus_acme_2"


def test_a_signed_in_user_of_another_tenant_cannot_follow_the_link(personas, tenant_a):
    subscription_webhook("past_due")
    path = path_of(portal_url(tenant=tenant_a))
    assert personas.client_for("owner_b").get(path).status_code == 404
    assert FakeStripeHttp.requests == []
    assert personas.client_for("owner_a").get(path).status_code == 302
    assert personas.client_for("member_a").get(path).status_code == 302
    assert [r.params["customer"] for r in FakeStripeHttp.requests] == ["cus_acme", "cus_acme"]


def test_a_portal_link_when_stripe_fails_explains_instead_of_erroring(tenant_a):
    subscription_webhook("past_due")
    FakeStripeHttp.fail("post", "/v1/billing_portal/sessions", status=500, message="An unknown error occurred")
    response = Client().get(path_of(portal_url(tenant=tenant_a)))
    assert response.status_code == 503
    body = response.content.decode()
    assert "The billing portal could not be opened" in body
    assert "Stripe could not open the billing portal: An unknown error occurred." in body


# --- the billing page ----------------------------------------------------------------------------


def test_the_billing_page_of_an_active_subscription(owner_a, tenant_a):
    subscription_webhook("active")
    customer_webhook(payment_method="pm_card_acme")  # the card is fetched through the fake Stripe
    assert [r.path for r in FakeStripeHttp.requests] == ["/v1/payment_methods/pm_card_acme"]

    response = signed_in(owner_a).get(reverse("billing:home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Billing for Acme Plumbing</h1>" in body
    assert "<dt>Plan</dt><dd>Professional</dd>" in body
    assert '<span class="badge status-active">Active</span>' in body
    assert "<dt>Next invoice</dt><dd>$49.00 on 1 Dec 2026</dd>" in body
    assert "<dt>Card</dt><dd>Visa ····4242 · exp 08/2030</dd>" in body
    assert '<button type="submit">Manage billing</button>' in body
    assert "Choose a plan" not in body
    assert "Start with" not in body


def test_the_billing_page_of_a_trial(owner_a, tenant_a):
    subscription_webhook("trialing", trial_end=T0 + 14 * DAY)
    body = signed_in(owner_a).get(reverse("billing:home")).content.decode()
    assert '<span class="badge status-trialing">Trialing</span>' in body
    assert "until 15 Nov 2026" in body
    assert "<dt>Plan</dt><dd>Professional</dd>" in body
    assert "Manage billing" in body


def test_the_billing_page_of_a_past_due_subscription_asks_for_a_new_card(owner_a, tenant_a):
    subscription_webhook("active")
    invoice = payloads.invoice_object(
        invoice_id="in_acme",
        customer_id="cus_acme",
        subscription_id="sub_acme",
        status="open",
        amount_due=4900,
        created=T0 + 30 * DAY,
        attempt_count=1,
        tenant="acme",
    )
    webhook("invoice.payment_failed", invoice, T0 + 30 * DAY)
    subscription_webhook("past_due", period_start=T0 + 30 * DAY)
    body = signed_in(owner_a).get(reverse("billing:home")).content.decode()
    assert '<span class="badge status-past_due">Past due</span>' in body
    assert "<dt>Amount due</dt><dd>$49.00 · " in body
    assert "Your latest payment did not go through." in body
    assert "Next invoice" not in body


def test_the_billing_page_without_a_subscription_offers_the_three_plans(owner_a, tenant_a):
    response = signed_in(owner_a).get(reverse("billing:home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Choose a plan" in body
    assert "Every plan starts with a 14-day free trial." in body
    for name, price in [("Starter", "$19/month"), ("Professional", "$49/month"), ("Business", "$99/month")]:
        assert f'<h3>{name}</h3>\n      <p class="price">{price}</p>' in body
        assert f"Start with {name}" in body
    assert body.count('name="plan"') == 3
    assert "Manage billing" not in body
    assert "Your plan" not in body


def test_the_billing_page_is_the_owners_only(personas, tenant_a):
    assert personas.client_for("member_a").get(reverse("billing:home")).status_code == 404
    assert personas.client_for("billing_ops").get(reverse("billing:home")).status_code == 404
    anonymous = personas.client_for("anonymous").get(reverse("billing:home"))
    assert (anonymous.status_code, anonymous["Location"]) == (302, f"{reverse('login')}?next=/billing/")
    # owner B sees their own (empty) billing, not tenant A's subscription
    subscription_webhook("active")
    body = personas.client_for("owner_b").get(reverse("billing:home")).content.decode()
    assert "Billing for Globex Dental" in body and "Choose a plan" in body
    assert Tenant.objects.get(external_id="acme").name not in body
