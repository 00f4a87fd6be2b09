"""A CSM in Chromium works the expansion pipeline (issue 16 §4): the home's "Expansion
opportunities" tile opens the pipeline, they mark one proposed and say why another was lost,
mark the proposed one won from the tenant's page, and open the advocacy candidates.
Screenshots 64 and 67 at 1280 and 390 px in docs/screenshots/; axe on each page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from lifecycle.expansion import expansion_sweep
from lifecycle.models import Opportunity

from .alert_helpers import ingest, tenant_at
from .factories import UserFactory
from .test_browser import browser_type_launch_args  # noqa: F401  (Debian's Chromium)
from .test_browser_cockpit import both_widths
from .test_browser_playbooks import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_csm_works_the_expansion_pipeline(page: Page, live_server):
    now = timezone.now()
    csm = UserFactory(username="casey", first_name="Casey", last_name="Morgan", roles=["csm"])
    for external_id, name, feature in (
        ("acme", "Acme Dental", "a second location"),
        ("bolt", "Bolt Plumbing", "call transcripts"),
    ):
        tenant = tenant_at(
            external_id, signed_up_at=now - timedelta(days=90), csm_owner=csm, name=name, onboarding=False
        )
        ingest(tenant, "feature.requested", now - timedelta(days=1), now=now, feature=feature, plan="professional")
    expansion_sweep(now=now)
    log_in(page, live_server, "casey")

    page.locator(".tile", has_text="Expansion opportunities").get_by_role("link", name="2").click()
    expect(page.get_by_role("heading", name="Expansion pipeline")).to_be_visible()
    expect(page.get_by_text("2 open or proposed in this CSM's book, worth $60.00")).to_be_visible()
    both_widths(page, "64-expansion-pipeline")

    acme = page.locator("tr", has_text="Acme Dental")
    acme.get_by_role("button", name="Proposed").click()
    expect(page.get_by_text("Acme Dental: the move to Professional is marked proposed.")).to_be_visible()
    bolt = page.locator("tr", has_text="Bolt Plumbing")
    bolt.get_by_label("Why it was lost").select_option(label="Price")
    bolt.get_by_role("button", name="Lost").click()
    expect(page.get_by_text("Bolt Plumbing: the move to Professional is marked lost.")).to_be_visible()
    expect(page.locator("table")).not_to_contain_text("Bolt Plumbing")  # the live list
    expect(page.get_by_text("1 open or proposed in this CSM's book, worth $30.00")).to_be_visible()

    page.get_by_role("link", name="Acme Dental").click()
    section = page.locator("#expansion")
    expect(section).to_contain_text("Feature request")
    expect(section).to_contain_text("Proposed")
    section.get_by_role("button", name="Won").click()
    expect(page.get_by_text("Acme Dental: the move to Professional is marked won.")).to_be_visible()
    expect(page.locator("#expansion")).to_contain_text("Won")
    assert Opportunity.all_tenants.get(tenant__external_id="acme").won_mrr_cents == 3000

    # The advocacy candidates, from the pipeline: nobody is a promoter yet.
    page.get_by_role("link", name="Expansion", exact=True).click()
    page.get_by_role("link", name="Advocacy candidates →").click()
    expect(page.get_by_role("heading", name="Advocacy candidates")).to_be_visible()
    expect(page.get_by_text("No advocacy candidate right now.")).to_be_visible()
    both_widths(page, "67-advocacy")
