"""Referrals (issue 16 §6, seed 001: refer a friend, both get a month free): a paying owner
shares their link from the billing page; a signup through it (or with the code typed in)
records who referred it — an unknown code is a form error, nothing created; once the new
tenant pays, the tick makes both rewards, once; billing ops mark each applied (audited)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from lifecycle.models import ReferralReward
from lifecycle.referrals import referral_rewards_make
from tenants.models import AuditLog, Membership, Tenant, TimelineEntry

from .alert_helpers import NOW, tenant_at
from .billing_helpers import StripeStory, stripe_settings
from .factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
SIGNUP = {
    "company_name": "Harbor HVAC",
    "owner_name": "Dana Smith",
    "email": "dana@harbor.example",
    "password": "a-long-unusual-passphrase",
    "phone": "",
    "plan": "starter",
    "business_type": "Home services",
    "timezone": "America/New_York",
}


@pytest.fixture(autouse=True)
def stripe(settings):
    stripe_settings(settings)


@pytest.fixture
def referrer():
    tenant = tenant_at("acme", signed_up_at=NOW - 200 * timedelta(days=1), name="Acme Dental", onboarding=False)
    Tenant.objects.filter(pk=tenant.pk).update(referral_code="ACME2345")
    tenant.refresh_from_db()
    return tenant


def test_a_signup_through_the_link_records_the_referrer(client, referrer, django_capture_on_commit_callbacks):
    form = client.get("/signup/?ref=ACME2345").content.decode()
    assert 'name="referral_code"' in form and 'value="ACME2345"' in form
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = client.post("/signup/", {**SIGNUP, "referral_code": " acme2345 "})
    assert response.status_code == 302
    harbor = Tenant.objects.get(name="Harbor HVAC")
    assert harbor.referred_by == referrer and harbor.referral_code and harbor.referral_code != "ACME2345"


def test_an_unknown_code_is_a_form_error_and_nothing_is_created(client, referrer):
    with time_machine.travel(NOW, tick=False):
        response = client.post("/signup/", {**SIGNUP, "referral_code": "NOPE9999"})
    assert response.status_code == 422
    assert "“NOPE9999” is not a referral code we know: check the link you followed, or leave it empty." in (
        response.content.decode().replace("&quot;", '"')
    )
    assert not Tenant.objects.filter(name="Harbor HVAC").exists()


def test_both_sides_are_rewarded_once_the_referred_tenant_pays(referrer, billing_ops, csm, client):
    harbor = tenant_at("harbor", signed_up_at=NOW - 20 * timedelta(days=1), name="Harbor HVAC", referred_by=referrer)
    story = StripeStory(harbor, plan="starter")
    story.status("trialing", at=NOW - 20 * timedelta(days=1), event="customer.subscription.created")
    assert referral_rewards_make(now=NOW) == 0  # trialing: not paying yet

    story.status("active", at=NOW - timedelta(hours=1))
    assert referral_rewards_make(now=NOW) == 1
    assert referral_rewards_make(now=NOW) == 0  # once
    rewards = {r.side: r for r in ReferralReward.all_tenants.select_related("tenant")}
    assert (rewards["referrer"].tenant, rewards["referee"].tenant) == (referrer, harbor)
    assert TimelineEntry.objects.for_tenant(referrer).get(kind="advocacy.referral").summary == (
        "Referral: Harbor HVAC signed up through Acme Dental's link and pays — one month free for billing ops to apply"
    )

    url = f"/admin/customer-success/referrals/{rewards['referrer'].id}/apply/"
    client.force_login(csm)
    assert client.post(url).status_code == 403
    client.force_login(billing_ops)
    listed = client.get("/admin/customer-success/referrals/").content.decode()
    assert listed.count("Mark applied") == 2 and "Referred Harbor HVAC" in listed
    with time_machine.travel(NOW, tick=False):
        done = client.post(url, {"note": "coupon 1MFREE", "next": "/admin/customer-success/referrals/"}, follow=True)
        again = client.post(url, follow=True)
    assert "Acme Dental: one month free marked applied." in done.content.decode()
    assert "Acme Dental: This reward was applied on 18 Nov 2026." in again.content.decode()
    log = AuditLog.objects.get(action="referral.reward_apply")
    assert log.actor == billing_ops and log.after == {"status": "applied", "note": "coupon 1MFREE"}


def test_a_paying_owner_sees_their_referral_link(client, referrer):
    owner = UserFactory(username="owner@acme.example")
    MembershipFactory(tenant=referrer, user=owner, role=Membership.Role.OWNER)
    StripeStory(referrer, plan="starter").status(
        "active", at=NOW - timedelta(days=30), event="customer.subscription.created"
    )
    client.force_login(owner)
    page = client.get("/billing/").content.decode()
    assert "Refer a friend: you both get a month free" in page
    assert '/signup/?ref=ACME2345"' in page and "<strong>ACME2345</strong>" in page
