"""The cockpit as its people use it, in a real browser (issue 15's "done when"): a CSM's
morning (home → a critical tenant → why → a note → acknowledge its alert → a task done from
the home → three alerts snoozed at once), a CS lead's (team view, SLA attainment, a knowledge
article edited, a QA review that becomes a task) and billing ops' (landing on their queue).
Every page is checked with axe-core (no serious or critical violation) and screenshotted at
1280 and 390 px into docs/screenshots/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from playbooks.models import Task
from qa.models import Review
from tenants.models import TenantNote

from .axe import assert_accessible
from .factories import UserFactory
from .test_browser import browser_type_launch_args  # noqa: F401  (Debian's Chromium)
from .test_browser_alerts import portfolio
from .test_browser_playbooks import SCREENSHOTS, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def both_widths(page: Page, name: str) -> None:
    """The page checked with axe and saved at desktop and phone width; no sideways scroll of
    the page itself on a tablet or a phone (wide tables scroll inside their own box, or stack)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert_accessible(page)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True, caret="initial")
    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet: no screenshot, no overflow
    assert page.evaluate("document.documentElement.scrollWidth") <= 768, f"{name} is wider than a tablet"
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True, caret="initial")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, f"{name} is wider than a phone"
    page.set_viewport_size({"width": 1280, "height": 800})


def test_a_csms_morning(page: Page, live_server, csm):
    tenants = portfolio(csm)
    Task.objects.create(
        tenant=tenants["harbor"],
        title="Call Harbor HVAC about their routing",
        assignee=csm,
        role="csm",
        # Due a few minutes ago: on the home's "due today or overdue" list at any hour (due in
        # an hour, it fell into tomorrow when the test ran after 23:00 UTC).
        due_at=timezone.now() - timedelta(minutes=5),
        created_at=timezone.now(),
    )
    log_in(page, live_server, "csm")

    # Home: their book; one critical tenant, its count a link to the list behind it.
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
    both_widths(page, "50-home-csm")
    page.locator(".tile", has_text="Critical").get_by_role("link").click()
    page.get_by_role("link", name="Cedar Realty").click()

    # Why it is critical, then a pinned note for the team.
    expect(page.locator(".pill.bucket-critical")).to_have_text("Critical")
    page.get_by_label("Add a note on Cedar Realty").fill("Owner on holiday until **Monday**; call then.")
    page.get_by_label("Pin it to the top of the tenant page").check()
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Note added to Cedar Realty.")).to_be_visible()
    expect(page.locator("#notes .note.pinned strong", has_text="Monday")).to_be_visible()
    assert TenantNote.objects.for_tenant(tenants["cedar"]).get().pinned
    both_widths(page, "51-tenant-360")

    # Its alerts, acknowledged in place.
    page.get_by_role("link", name="All of this tenant's alerts").click()
    row = page.locator("tr.alert-row", has_text="No activity")
    row.get_by_role("button", name="Acknowledge").click()
    expect(row.locator("td").nth(1).locator("small")).to_contain_text("Acknowledged")

    # A task done from the home.
    page.get_by_role("link", name="Home").click()
    page.get_by_role("button", name="Done: Call Harbor HVAC about their routing").click()
    expect(page.locator("li[id^=home-task-]", has_text="Call Harbor HVAC")).to_have_count(0)

    # Three more alerts snoozed at once from the queue.
    page.get_by_role("link", name="Alerts", exact=True).click()
    boxes = page.locator("tr.alert-row", has_text="No activity").locator("input.bulk-pick")
    for tenant in ("Harbor HVAC", "Maple Dental", "Birch Law"):
        page.locator("tr.alert-row", has_text="No activity").filter(has_text=tenant).locator("input.bulk-pick").check()
    expect(page.locator("#bulk-count")).to_have_text("3 alerts ticked")
    page.locator("#bulk-action").select_option("snooze")
    page.locator("#bulk-alerts").get_by_label("Snooze for").select_option("tomorrow")
    page.get_by_role("button", name="Apply to ticked alerts").click()
    expect(page.get_by_text("3 alerts snoozed.")).to_be_visible()
    assert boxes.count() >= 1  # Cedar's, acknowledged, is still in the queue
    both_widths(page, "52-alert-queue-bulk")


def test_a_cs_leads_morning(page: Page, live_server, csm):
    UserFactory(username="lead", first_name="Lee", last_name="Dawson", roles=["cs_lead", "csm"])
    tenants = portfolio(csm)
    log_in(page, live_server, "lead")

    # The team's load, and SLA attainment on the queue.
    page.goto(f"{live_server.url}/admin/customer-success/?scope=all")
    expect(page.get_by_role("heading", name="The team", exact=True)).to_be_visible()
    expect(page.locator("section[aria-labelledby=team-heading]").get_by_text("Casey Morgan")).to_be_visible()
    both_widths(page, "53-home-team")
    page.get_by_role("link", name="Alerts", exact=True).click()
    expect(page.get_by_role("heading", name="SLA attainment")).to_be_visible()

    # A knowledge article, edited: version 2, version 1 still readable.
    page.get_by_role("link", name="Knowledge").click()
    both_widths(page, "54-knowledge")
    page.get_by_role("link", name="Price concern").click()
    page.get_by_role("link", name="Edit", exact=True).click()
    body = page.get_by_label("Body")
    body.fill(body.input_value() + "\n\nAnnual plans: two months free is the most we offer.")
    page.get_by_label("What changed (for the version history)").fill("Added the annual-plan offer")
    page.get_by_role("button", name="Save article").click()
    expect(page.get_by_text("“Price concern” saved as version 2.")).to_be_visible()
    expect(page.get_by_text("two months free")).to_be_visible()
    both_widths(page, "55-knowledge-article")

    # A QA review of one of Harbor's interactions, and its action item as a task.
    page.get_by_role("link", name="QA", exact=True).click()
    page.get_by_role("link", name="New review").click()
    page.get_by_label("Which tenant?").fill("harbor")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("What was reviewed").fill("First inbound call, Monday 9:12")
    page.get_by_label("Recording or transcript link").fill("https://recordings.example.com/harbor/0912")
    for criterion, level in [("greeting", 5), ("understanding", 4), ("accuracy", 2), ("outcome", 4), ("objections", 3)]:
        page.locator(f"input[name=score_{criterion}][value='{level}']").check()
    page.get_by_label("Highlights (Markdown)").fill("Did not know the **weekend hours**.")
    both_widths(page, "56-qa-new-review")
    page.get_by_role("button", name="Save review").click()
    # (5 + 4 + 2 + 4 + 3) / 5 = 3.6 → (3.6 - 1) / 4 = 65 %.
    expect(page.get_by_text("Review saved: 65/100.")).to_be_visible()
    page.get_by_label("Action item").fill("Add the weekend hours to the receptionist's prompt")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_text("Task created for")).to_be_visible()
    both_widths(page, "57-qa-review")
    review = Review.objects.for_tenant(tenants["harbor"]).get()
    assert review.score == 65
    assert Task.objects.for_tenant(tenants["harbor"]).get().assignee == csm


def test_billing_ops_land_on_their_queue(page: Page, live_server, billing_ops):
    log_in(page, live_server, "billing-ops")
    expect(page).to_have_url(f"{live_server.url}/admin/billing/")
    expect(page.get_by_role("heading", name="Past due", exact=True)).to_be_visible()
    assert_accessible(page)
