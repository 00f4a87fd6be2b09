"""A CS lead in Chromium (issue 16): sets a tenant's contract end date on its page, opens the
monthly report from the navigation, follows its churn count to the tenant list, opens the
weekly dashboard, the cohorts and NPS by month, plan and segment, and the home's "sent today"
tile to the touchpoint list; the renewal health pack from the tenant page, on screen and
printed. Screenshots 60, 61, 65, 66 and 68 at 1280 and 390 px in docs/screenshots/; axe on
each page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tenants.models import Tenant

from .alert_helpers import tenant_at
from .factories import UserFactory
from .test_browser import browser_type_launch_args  # noqa: F401  (Debian's Chromium)
from .test_browser_cockpit import both_widths
from .test_browser_playbooks import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_cs_lead_sets_a_renewal_and_reads_the_reports(page: Page, live_server):
    now = timezone.now()
    lead = UserFactory(username="lead", first_name="Lee", last_name="Dawson", roles=["cs_lead", "csm"])
    tenant_at("acme", signed_up_at=now - timedelta(days=90), csm_owner=lead, name="Acme Dental", onboarding=False)
    gone = tenant_at("gone", signed_up_at=now - timedelta(days=90), name="Gone Plumbing", onboarding=False)
    # Churned a moment ago: this month's (unless the test starts in a month's first second).
    Tenant.objects.filter(pk=gone.pk).update(lifecycle_stage="churned", churned_at=now - timedelta(seconds=1))
    log_in(page, live_server, "lead")

    # The contract's end date, set on the tenant's page.
    page.goto(f"{live_server.url}/admin/customer-success/tenants/acme/")
    ends = (now + timedelta(days=100)).date()
    page.get_by_label("Contract ends").fill(ends.isoformat())
    page.locator("#contract").get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"Acme Dental's contract ends on {ends:%-d %b %Y}.")).to_be_visible()
    expect(page.locator("#contract")).to_contain_text("renews in 100 days")

    # The renewal health pack, from the contract line; printed without the navigation.
    page.locator("#contract").get_by_role("link", name="Renewal health pack").click()
    expect(page.get_by_role("heading", name="Renewal health pack")).to_be_visible()
    expect(page.get_by_text(f"The contract ends on {ends:%-d %b %Y}, in 100 days.")).to_be_visible()
    both_widths(page, "66-renewal-pack")
    page.emulate_media(media="print")
    expect(page.locator("header.topbar")).to_be_hidden()
    page.screenshot(path="docs/screenshots/66-renewal-pack-print.png", full_page=True)
    page.emulate_media(media="screen")
    page.go_back()

    # The monthly report, from the navigation; its churn count opens the list behind it.
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Customer Success Monthly Report")).to_be_visible()
    both_widths(page, "60-monthly-report")
    page.get_by_role("link", name="1 churned").click()
    expect(page.locator("#tenant-table")).to_contain_text("Gone Plumbing")
    expect(page.locator("#tenant-table")).to_contain_text("1 tenant")

    page.go_back()
    page.get_by_role("link", name="Weekly dashboard").click()
    expect(page.get_by_role("heading", name="Weekly dashboard")).to_be_visible()
    both_widths(page, "61-weekly-dashboard")

    # Cohorts, from the report: Acme and Gone signed up three months ago; Gone has left.
    page.go_back()
    page.get_by_role("link", name="Cohorts", exact=True).click()
    expect(page.get_by_role("heading", name="Cohorts")).to_be_visible()
    expect(page.locator("table.cohorts")).to_contain_text("Customers")
    both_widths(page, "65-cohorts")
    page.go_back()
    page.get_by_role("link", name="NPS", exact=True).click()
    expect(page.get_by_role("heading", name="NPS")).to_be_visible()
    both_widths(page, "68-nps")

    # The home's touchpoint tile opens the touchpoint list it counts.
    page.get_by_role("link", name="Home").click()
    page.locator(".tile", has_text="Touchpoints sent today").get_by_role("link").click()
    expect(page.get_by_role("heading", name="Touchpoints")).to_be_visible()
    expect(page.get_by_text("No touchpoint sent today")).to_be_visible()
