"""Playbooks in a real browser: a CS lead reads a playbook, edits it with a live preview and an
error on its line, rehearses it with the dry run; a CSM works the tenant's touchpoints, a task
and an interrupted send; the owner sees and dismisses an in-app message and answers the
survey. Screenshots go to docs/screenshots/."""

from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from core.roles import StaffRole
from playbooks.models import Delivery, InAppMessage, Task
from playbooks.templating import survey_token
from tenants.models import Membership

from .conftest import tenant_user
from .factories import UserFactory
from .test_browser import browser_type_launch_args  # noqa: F401  (Debian's Chromium)
from .touchpoint_helpers import SIGNUP, hourly, new_york_tenant, tick_at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PASSWORD = "correct horse battery staple"


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def log_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def harbor_three_days_in():
    tenant = new_york_tenant()  # signed up 2 Nov 2026, 21:00 New York time
    for moment in hourly(SIGNUP, 4 * 24):
        tick_at(moment)
    return tenant


def test_cs_lead_edits_previews_and_rehearses_a_playbook(page: Page, live_server):
    """About 20–35 s: a real Chromium walks the editor, its live preview and a 30-day
    simulation of the playbook (one rendering per step and tenant), with a screenshot each."""
    UserFactory(username="alex", first_name="Alex", last_name="Chen", roles=[StaffRole.CS_LEAD])
    harbor_three_days_in()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, live_server, "alex")

    page.get_by_role("navigation", name="Cockpit").get_by_role("link", name="Playbooks").click()
    expect(page.get_by_role("heading", name="Playbooks")).to_be_visible()
    shot(page, "20-playbooks")
    page.get_by_role("link", name="Onboarding, days 0–30").click()
    expect(page.get_by_role("row", name="Day 3: Activation check")).to_be_visible()
    shot(page, "21-playbook-detail")

    page.get_by_role("link", name="Edit").click()
    editor = page.get_by_label("Definition (YAML)")
    text = editor.input_value()
    page.get_by_label("Preview for tenant").select_option(label="Harbor HVAC")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview for Harbor HVAC")).to_be_visible()
    expect(page.locator("#preview")).to_contain_text("Welcome to CloudGreet, Dana")
    shot(page, "22-playbook-edit-preview")

    editor.fill(text.replace("{{ onboarding_url }}", "{{ onboarding_link }}", 1))
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown variable {{ onboarding_link }}")
    expect(page.get_by_role("alert")).to_contain_text("line")
    shot(page, "23-playbook-edit-error")

    page.get_by_label("Definition (YAML)").fill(text.replace("let's get", "let us get"))
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_text("Saved as version 2")).to_be_visible()

    page.get_by_role("link", name="Dry run").click()
    expect(page.get_by_role("heading", name="Dry run: Onboarding, days 0–30")).to_be_visible()
    expect(page.locator("#sim-counts")).to_contain_text("1 would start")
    # One collapsed line per tenant: open Harbor's to read what each step would do.
    page.locator("details.sim-tenant summary", has_text="Harbor HVAC").click()
    expect(page.get_by_text("condition false: usage_level == high (it is low)").first).to_be_visible()
    shot(page, "24-playbook-dry-run")
    # The refused save answers 400 on purpose (the form with its error); nothing else may fail.
    assert [e for e in errors if "status of 400" not in e] == [], errors


def test_csm_works_touchpoints_a_task_and_an_interrupted_send(page: Page, live_server):
    """About 20–30 s: a real Chromium works the touchpoints, a task and a send in review, and
    the tenant gets three days of real ticks first."""
    csm = UserFactory(username="maria", first_name="Maria", last_name="Gomez", roles=[StaffRole.CSM])
    tenant = harbor_three_days_in()
    tenant.csm_owner = csm
    tenant.save()
    Task.objects.for_tenant(tenant).update(assignee=csm)
    interrupted = Delivery.objects.for_tenant(tenant).get(step__key="welcome-sms")
    Delivery.all_tenants.filter(id=interrupted.id).update(status=Delivery.Status.NEEDS_REVIEW, reason="interrupted")
    log_in(page, live_server, "maria")

    page.goto(f"{live_server.url}/admin/customer-success/tenants/harbor/")
    expect(page.get_by_role("heading", name="Touchpoints")).to_be_visible()
    expect(page.get_by_text("condition false: usage_level == high (it is low)")).to_be_visible()
    shot(page, "25-tenant-touchpoints")

    page.get_by_role("navigation", name="Cockpit").get_by_role("link", name="Tasks").click()
    row = page.locator("#task-table tbody tr").filter(has_text="calibration call")
    row.get_by_label("Note for").fill("Booked Thursday 10:00")
    row.get_by_role("button", name="Done").click()
    expect(page.locator("#task-table")).to_contain_text("Booked Thursday 10:00")  # swapped in place by htmx
    shot(page, "26-tasks")

    page.goto(f"{live_server.url}/admin/customer-success/touchpoints/review/")
    page.get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", name="Why")).to_be_visible()
    page.get_by_label("It went out (I checked with the provider)").check()
    page.get_by_label("What you checked").fill("Twilio log: delivered 09:01")
    shot(page, "27-needs-review")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Recorded.")).to_be_visible()
    interrupted.refresh_from_db()
    assert interrupted.status == Delivery.Status.SENT


def test_owner_dismisses_an_in_app_message_and_answers_the_survey(page: Page, live_server):
    tenant = new_york_tenant()
    owner = tenant_user(tenant, "dana", Membership.Role.OWNER)
    owner.set_password(PASSWORD)
    owner.save()
    InAppMessage.objects.create(
        tenant=tenant, title="You are close to your plan's limit", body="Upgrade any time.", created_at=timezone.now()
    )
    log_in(page, live_server, "dana")

    message = page.get_by_label("Messages from your success team")
    expect(message).to_contain_text("You are close to your plan's limit")
    shot(page, "28-owner-in-app-message")
    message.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_text("You are close to your plan's limit")).to_have_count(0)

    page.goto(f"{live_server.url}/survey/{survey_token(tenant.id)}/")
    page.get_by_label("9", exact=True).check()
    page.get_by_label("What is the main reason for your score?").fill("Never miss a call now")
    shot(page, "29-nps-survey")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
