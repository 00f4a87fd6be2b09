"""Billing ops in Chromium (issue 16 §6): from the past-due queue to the referral rewards, a
month free applied with its Stripe coupon noted, the list of rewards to apply then one
shorter. Screenshot 69 at 1280 and 390 px in docs/screenshots/; axe on the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from lifecycle.models import ReferralReward

from .alert_helpers import tenant_at
from .factories import UserFactory
from .test_browser import browser_type_launch_args  # noqa: F401  (Debian's Chromium)
from .test_browser_cockpit import both_widths
from .test_browser_playbooks import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_billing_ops_apply_a_referral_month(page: Page, live_server):
    now = timezone.now()
    UserFactory(username="bea", first_name="Bea", last_name="Lopez", roles=["billing_ops"])
    acme = tenant_at("acme", signed_up_at=now - timedelta(days=200), name="Acme Dental", onboarding=False)
    harbor = tenant_at("harbor", signed_up_at=now - timedelta(days=20), name="Harbor HVAC", onboarding=False,
                       referred_by=acme)  # fmt: skip
    for tenant, side in ((acme, "referrer"), (harbor, "referee")):
        ReferralReward.objects.create(tenant=tenant, referred=harbor, side=side, created_at=now)
    log_in(page, live_server, "bea")

    page.goto(f"{live_server.url}/admin/billing/")
    page.get_by_role("link", name="Referral rewards").click()
    expect(page.get_by_role("heading", name="Referral rewards")).to_be_visible()
    both_widths(page, "69-referral-rewards")

    row = page.locator("tr", has_text="Referred Harbor HVAC")
    row.get_by_label("Stripe coupon or credit (optional)").fill("coupon 1MFREE")
    row.get_by_role("button", name="Mark applied").click()
    expect(page.get_by_text("Acme Dental: one month free marked applied.")).to_be_visible()
    expect(page.locator("table")).not_to_contain_text("Referred Harbor HVAC")
    applied = ReferralReward.all_tenants.get(side="referrer")
    assert (applied.status, applied.note) == ("applied", "coupon 1MFREE")
