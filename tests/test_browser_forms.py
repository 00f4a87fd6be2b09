"""A bad value in a form, in a real browser, with DEBUG on as the demo runs it: the owner's
wizard step, the alert queue's snooze and the past-due queue's "resend portal link" each come
back as the styled form with its error in place — the page around it whole (header, nav, the
rest of the table), never replaced by the bare fragment (django-htmx's DEBUG handler does that
to a 400/403/404/500; form errors are 422 and are swapped like a success, and the handler is not
loaded). Screenshots 45–47 go to
docs/screenshots/. The owner's wizard then saves a good value and its progress, "Step N of M",
current step and open steps all move."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from .billing_helpers import stripe_settings
from .test_browser import browser_type_launch_args  # noqa: F401  (Debian's Chromium)
from .test_browser_alerts import alert_of, portfolio, shot
from .test_browser_billing import billing_desk
from .test_browser_playbooks import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-unusual-passphrase"


@pytest.fixture(autouse=True)
def debug_on(settings):
    # The live server runs in this process: it renders with DEBUG on, as `make demo` does.
    settings.DEBUG = True


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def post_to(page: Page, url_end: str):
    return page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(url_end))


def mark_page(page: Page) -> None:
    """A flag on the window: still there afterwards means the page was never reloaded or replaced."""
    page.evaluate("window.__marker = 1")


def only_form_errors(errors: list[str]) -> list[str]:
    # The browser logs each 422 answer ("status of 422"); anything else (a CSP refusal, a
    # script error) is a failure.
    return [e for e in errors if "status of 422" not in e]


def test_a_wizard_step_error_shows_in_place_and_a_save_moves_the_whole_wizard(page: Page, live_server, console_errors):
    page.goto(f"{live_server.url}/signup/")
    page.get_by_label("Company name").fill("Harbor HVAC")
    page.get_by_label("Your name").fill("Dana Smith")
    page.get_by_label("Work email").fill("dana@harbor.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Professional · $49/month").check()
    page.get_by_label("Business type").select_option("Home services")
    page.get_by_label("Time zone").fill("America/Chicago")
    page.get_by_role("button", name="Create account").click()

    # Verify email (waiting on the inbox), calendar, number, prompt are the wizard's 4 steps; the
    # live test call makes 5 milestones. Nothing done yet.
    expect(page.get_by_role("heading", name="Connect your calendar")).to_be_visible()
    progress = page.get_by_role("progressbar", name="Onboarding progress")
    expect(progress).to_have_attribute("value", "0")
    expect(page.get_by_text("Step 2 of 4")).to_be_visible()
    expect(page.locator(".checklist li.current")).to_contain_text("Connect your calendar")

    mark_page(page)
    page.get_by_label("Another calendar (iCal link)").check()
    page.get_by_label("Calendar address").fill("http://not-secure.example/cal.ics")
    with post_to(page, "/onboarding/step/connect_calendar/") as answer:
        page.get_by_role("button", name="Save and continue").click()
    assert answer.value.status == 422
    field = page.locator(".field.has-error")
    expect(field.get_by_role("alert")).to_contain_text("starts with https://")
    expect(field.get_by_label("Calendar address")).to_have_value("http://not-secure.example/cal.ics")
    expect(page.get_by_role("link", name=settings.BRAND_NAME)).to_be_visible()  # the header…
    expect(page.get_by_role("navigation", name="Your account")).to_be_visible()  # …its nav…
    expect(progress).to_have_attribute("value", "0")  # …and the wizard beside the step
    assert page.evaluate("window.__marker") == 1
    shot(page, "45-wizard-error-debug")

    page.get_by_label("Calendar address").fill("https://calendar.example/harbor.ics")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Get your phone number")).to_be_visible()
    # One milestone of five done: 20 %; the next step is the third of four.
    expect(progress).to_have_attribute("value", "20")
    expect(page.get_by_text("1 of 5 done · 20 %")).to_be_visible()
    expect(page.get_by_text("Step 3 of 4")).to_be_visible()
    expect(page.locator(".checklist li.current")).to_contain_text("Get your phone number")
    expect(page.locator(".checklist li.done")).to_contain_text("Connect your calendar")
    expect(page.locator(".checklist li:not(.done)")).to_have_count(4)  # still open
    assert only_form_errors(console_errors) == [], console_errors


def test_a_snooze_into_the_past_shows_the_error_in_its_row(page: Page, live_server, csm, console_errors):
    tenants = portfolio(csm)
    log_in(page, live_server, "csm")
    page.get_by_role("navigation", name="Cockpit").get_by_role("link", name="Alerts").click()
    rows = page.locator("#alert-table tr.alert-row")
    expect(rows).to_have_count(9)
    alert = alert_of(tenants["harbor"], "no_activity")
    row = page.locator(f"#alert-{alert.id}")

    mark_page(page)
    past = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    row.get_by_label("Snooze until (UTC)").fill(past)
    with post_to(page, f"/alerts/{alert.id}/snooze/") as answer:
        row.get_by_role("button", name="Snooze").click()
    assert answer.value.status == 422
    actions = row.locator("td").last  # the cell with the snooze form
    expect(actions.get_by_role("alert")).to_have_text("A snooze must end in the future.")
    expect(actions.get_by_label("Snooze until (UTC)")).to_have_value(past)  # what was sent, to correct
    expect(row.locator("td").nth(1).locator("small")).to_have_text("Open")  # after the tick box
    expect(page.get_by_role("navigation", name="Cockpit")).to_be_visible()
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    expect(rows).to_have_count(9)  # the rest of the queue is still there
    assert page.evaluate("window.__marker") == 1
    shot(page, "46-alert-snooze-error-debug")
    alert.refresh_from_db()
    assert alert.status == "open" and alert.snoozed_until is None

    # An answer that is not a form error (here a 403: the CSM lost the role meanwhile) is not
    # swapped: the page stays whole, with DEBUG on too, and says what happened beside the button.
    csm.groups.clear()
    with post_to(page, f"/alerts/{alert.id}/acknowledge/") as answer:
        row.get_by_role("button", name="Acknowledge").click()
    assert answer.value.status == 403
    expect(actions.get_by_role("alert").last).to_have_text(
        "Not allowed: you may have been logged out. Reload the page to carry on."
    )
    expect(page.get_by_role("navigation", name="Cockpit")).to_be_visible()
    expect(rows).to_have_count(9)
    assert page.evaluate("window.__marker") == 1
    # The browser and htmx each log the 403; nothing else (a CSP refusal, a script error) may fail.
    assert [e for e in only_form_errors(console_errors) if "403" not in e] == [], console_errors


def test_a_resend_with_no_channel_shows_the_error_in_its_row(
    page: Page, live_server, settings, billing_ops, csm, console_errors
):
    stripe_settings(settings)
    harbor, _ = billing_desk(csm)
    log_in(page, live_server, "billing-ops")
    page.get_by_role("navigation", name="Cockpit").get_by_role("link", name="Billing").click()
    rows = page.locator("#past-due tr.queue-row")
    expect(rows).to_have_count(2)
    row = page.locator(f"#subscription-{harbor.id}")

    mark_page(page)
    row.get_by_label("email", exact=True).uncheck()
    row.get_by_label("SMS", exact=True).uncheck()
    with post_to(page, f"/subscriptions/{harbor.id}/resend/") as answer:
        row.get_by_role("button", name="Resend portal link").click()
    assert answer.value.status == 422
    actions = row.locator("td").last  # the cell with the resend form
    expect(actions.get_by_role("alert")).to_have_text("Choose email, SMS or both.")
    expect(actions.get_by_role("button", name="Resend portal link")).to_be_enabled()
    expect(actions.get_by_label("email", exact=True)).not_to_be_checked()  # as sent, to correct
    expect(actions.get_by_label("SMS", exact=True)).not_to_be_checked()
    expect(page.get_by_role("navigation", name="Cockpit")).to_be_visible()
    expect(page.get_by_role("heading", name="Past due", exact=True)).to_be_visible()
    expect(rows).to_have_count(2)
    assert page.evaluate("window.__marker") == 1
    shot(page, "47-billing-resend-error-debug")
    assert only_form_errors(console_errors) == [], console_errors
