"""Cases a review found: a card renewal delivered after a newer rename still counts, a
matched subscription is never re-homed by another tenant's metadata, and coming back after a
cancellation is not a second free trial."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from billing import payloads
from billing.models import Customer, StripeEvent, Subscription

from .alert_helpers import NOW, tenant_at
from .billing_helpers import StripeStory, feed
from .stripe_fake import FakeStripeHttp, use_fake_stripe

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stripe(settings):
    use_fake_stripe(settings)
    settings.STRIPE_PRICE_PROFESSIONAL = "price_pro"  # billing_helpers' prices


def test_a_late_card_renewal_is_not_lost_behind_a_newer_rename():
    tenant_at("acme", signed_up_at=NOW - timedelta(days=90), onboarding=False)
    card = payloads.payment_method_object(payment_method_id="pm_1", customer_id="cus_1", exp_month=12, exp_year=2026)
    customer = payloads.customer_object(customer_id="cus_1", email="a@a.test", name="Acme", tenant="acme")
    feed("customer.created", {**customer, "invoice_settings": {"default_payment_method": card}}, created=NOW)
    rename = {**customer, "name": "Acme Corp", "invoice_settings": {"default_payment_method": "pm_1"}}
    feed("customer.updated", rename, created=NOW + timedelta(seconds=100))  # arrives first
    renewed = {**card, "card": {**card["card"], "exp_year": 2030}}
    feed("payment_method.automatically_updated", renewed, created=NOW + timedelta(seconds=90))
    stored = Customer.objects.get()
    assert (stored.name, stored.card_exp_year) == ("Acme Corp", 2030)


def test_another_tenants_metadata_never_moves_a_matched_subscription():
    acme = tenant_at("acme", signed_up_at=NOW - timedelta(days=90), onboarding=False)
    tenant_at("globex", signed_up_at=NOW - timedelta(days=90), onboarding=False)
    story = StripeStory(acme)
    story.status("active", at=NOW, event="customer.subscription.created")
    moved = story.subscription("active", at=NOW + timedelta(hours=1))
    moved["metadata"] = {"tenant": "globex"}
    result = feed("customer.subscription.updated", moved, created=NOW + timedelta(hours=1))
    assert Subscription.all_tenants.get().tenant == acme
    assert "names globex, but the subscription belongs to another tenant" in result.detail
    assert StripeEvent.objects.get(event_id=result.event_id).detail == result.detail


def test_a_second_subscription_after_a_cancellation_gets_no_trial(owner_a, tenant_a):
    story = StripeStory(tenant_a)
    story.status("canceled", at=NOW, event="customer.subscription.deleted", canceled_at=NOW)
    client = Client()
    client.force_login(owner_a)
    response = client.post(reverse("billing:checkout"), {"plan": "professional"})
    assert response.status_code == 302
    [session] = FakeStripeHttp.calls("post", "/v1/checkout/sessions")
    assert "subscription_data[trial_period_days]" not in session.params
    assert session.params["subscription_data[metadata][tenant]"] == tenant_a.external_id
