"""The owner's onboarding in a real browser, and the CSM watching it. Screenshots of every
wizard step and of the funnel go to docs/screenshots/."""

import re
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Page, expect

from core.roles import StaffRole
from core.ticks import run_tick
from health.ingest import events_ingest
from tenants.models import Tenant

from .factories import UserFactory
from .test_browser import browser_type_launch_args  # noqa: F401  (Debian's Chromium)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PASSWORD = "a-long-unusual-passphrase"


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def log_in(page: Page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_owner_signs_up_walks_the_wizard_leaves_resumes_and_goes_live(page: Page, live_server):
    page.goto(f"{live_server.url}/signup/")
    page.get_by_label("Company name").fill("Harbor HVAC")
    page.get_by_label("Your name").fill("Dana Smith")
    page.get_by_label("Work email").fill("dana@harbor.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Mobile phone (optional)").fill("+14155550123")
    page.get_by_label("Professional").check()
    page.get_by_label("Business type").select_option("Home services")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("Tick this to get SMS reminders")  # consent missing
    shot(page, "01-signup-error")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Text me onboarding reminders").check()
    page.get_by_role("button", name="Create account").click()

    # Step 1 that the owner can do now: the calendar (the email link is in the inbox).
    expect(page.get_by_role("heading", name="Connect your calendar")).to_be_visible()
    shot(page, "02-wizard-calendar")
    page.get_by_label("Another calendar (iCal link)").check()
    page.get_by_label("Calendar address").fill("http://not-secure.example/cal.ics")
    page.get_by_role("button", name="Save and continue").click()  # htmx swaps the panel
    expect(page.get_by_role("alert")).to_contain_text("starts with https://")
    shot(page, "03-wizard-validation-error")
    page.get_by_label("Calendar address").fill("https://calendar.example/harbor.ics")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", name="Get your phone number")).to_be_visible()
    page.get_by_label("Country").select_option("US")
    page.get_by_label("Preferred area code").fill("415")
    shot(page, "04-wizard-number")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Tune your AI assistant")).to_be_visible()

    # Leave halfway, come back later on another device: the wizard resumes where it was.
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "dana@harbor.example", PASSWORD)
    expect(page.get_by_role("heading", name="Tune your AI assistant")).to_be_visible()
    expect(page.get_by_role("progressbar", name="Onboarding progress")).to_have_attribute("value", "40")
    page.get_by_label("What your business does").fill(
        "Heating and cooling repairs in San Francisco, 7am to 7pm, same-day visits booked by phone."
    )
    page.get_by_label("How the assistant answers").fill("Thanks for calling Harbor HVAC, how can I help?")
    shot(page, "05-wizard-prompt")
    page.get_by_role("button", name="Save and continue").click()

    # Only the email link is left among the wizard steps.
    expect(page.get_by_role("heading", name="Verify your email")).to_be_visible()
    shot(page, "06-wizard-verify-email")
    link = re.search(r"https?://[^/]+(/onboarding/verify/\S+/)", mail.outbox[0].body).group(1)
    page.goto(f"{live_server.url}{link}")
    expect(page.get_by_text("Waiting for a signal")).to_be_visible()
    expect(page.get_by_role("heading", name="Almost there")).to_be_visible()
    shot(page, "07-waiting-for-test-call")

    # The live test call: the product posts call.handled, the next tick completes the step.
    tenant = Tenant.objects.get(name="Harbor HVAC")
    now = timezone.now()
    events_ingest(
        events=[{"tenant": tenant.external_id, "name": "call.handled", "occurred_at": now.isoformat()}],
        bound_tenant=None,
        now=now,
    )
    run_tick(now=timezone.now())
    page.reload()
    expect(page.get_by_role("heading", name="You're live!")).to_be_visible()
    shot(page, "08-youre-live")


def test_csm_sees_the_milestones_and_the_funnel_move(page: Page, live_server, owner_a, tenant_a):
    UserFactory(username="maria", roles=[StaffRole.CSM])
    log_in(page, live_server, "maria", "correct horse battery staple")
    page.get_by_role("link", name="Onboarding").click()
    funnel_row = page.locator("table.funnel tbody tr", has_text="Send your first event")
    expect(funnel_row).to_contain_text("0 · 0 %")
    shot(page, "10-funnel-before")

    now = timezone.now()
    events_ingest(
        events=[{"tenant": "acme", "name": "app.opened", "occurred_at": now.isoformat()}], bound_tenant=None, now=now
    )
    run_tick(now=timezone.now())
    page.reload()
    # Email not verified, no integration yet: the step counts it only once those are done
    # (a step never exceeds the one above it); until then it shows as out of order.
    expect(funnel_row).to_contain_text("0 · 0 %")
    expect(funnel_row).to_contain_text("+1 out of order")
    shot(page, "11-funnel-after")

    page.goto(f"{live_server.url}/admin/customer-success/tenants/acme/")
    milestones = page.locator("table.milestones")
    expect(milestones.locator("tr", has_text="Send your first event")).to_contain_text("Done")
    row = milestones.locator("tr", has_text="Reach first value")
    row.get_by_placeholder("What you did (required)").fill("Confirmed on the kickoff call")
    row.get_by_role("button", name="Complete for them").click()
    expect(page.get_by_text("“Reach first value” completed for Acme Plumbing.")).to_be_visible()
    expect(milestones.locator("tr", has_text="Reach first value")).to_contain_text("Confirmed on the kickoff call")
    shot(page, "12-tenant-checklist")
