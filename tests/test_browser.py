"""A person in a real browser (Debian's Chromium through Playwright): staff log in and work
the tenant list. Screenshots land in test-artifacts/."""

import re

import pytest
from playwright.sync_api import Page, expect

from core.roles import StaffRole
from tenants.models import Tenant

from .conftest import CHROMIUM
from .factories import TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ],
    }


def log_in(page: Page, live_server, username: str, next_path: str = "") -> None:
    page.goto(f"{live_server.url}/login/{'?next=' + next_path if next_path else ''}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_csm_logs_in_and_works_the_tenant_list(page: Page, live_server, artifacts_dir):
    UserFactory(username="maria", first_name="Maria", last_name="Gomez", roles=[StaffRole.CSM])
    TenantFactory(name="Harbor HVAC", plan=Tenant.Plan.BUSINESS, segment="Home services")
    TenantFactory(name="Maple Dental", plan=Tenant.Plan.STARTER, segment="Dental clinics")
    TenantFactory.create_batch(30, plan=Tenant.Plan.PROFESSIONAL, segment="Law firms")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    log_in(page, live_server, "maria")
    expect(page).to_have_url(f"{live_server.url}/admin/customer-success/")  # home first
    page.get_by_role("navigation", name="Cockpit").get_by_role("link", name="Tenants").click()

    expect(page).to_have_url(f"{live_server.url}/admin/customer-success/tenants/")
    expect(page.get_by_role("heading", name="Tenants")).to_be_visible()
    expect(page.get_by_text("32 tenants · page 1 of 2")).to_be_visible()
    page.screenshot(path=artifacts_dir / "tenant-list.png", full_page=True)

    page.get_by_label("Search").fill("maple")  # htmx swaps the table as you type
    expect(page.get_by_text("1 tenant", exact=True)).to_be_visible()
    expect(page.locator("#tenant-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/admin/customer-success/tenants/\?q=maple&"))  # shareable URL

    page.get_by_label("Search").fill("")
    page.get_by_label("Plan").select_option("business")
    expect(page.locator("#tenant-table tbody tr")).to_have_count(1)
    expect(page.locator("#tenant-table")).to_contain_text("Harbor HVAC")
    page.screenshot(path=artifacts_dir / "tenant-list-filtered.png", full_page=True)
    assert not errors, errors  # no CSP violations, no script errors


def test_wrong_password_says_so_and_tenant_owner_is_refused(page: Page, live_server, artifacts_dir, owner_a):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("owner-a")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    page.screenshot(path=artifacts_dir / "login-error.png")

    log_in(page, live_server, "owner-a")
    expect(page.get_by_role("heading", name="Invite a teammate")).to_be_visible()  # owners land in their wizard
    expect(page.get_by_role("navigation", name="Cockpit")).to_have_count(0)
    response = page.goto(f"{live_server.url}/admin/customer-success/tenants/")
    assert response.status == 403


def scored_portfolio():
    from datetime import timedelta

    from django.utils import timezone

    from health.ingest import events_ingest
    from health.services import health_backfill_history, health_recompute_all

    now = timezone.now()
    busy = TenantFactory(external_id="busy", name="Busy Bees HVAC", signed_up_at=now - timedelta(days=40))
    quiet = TenantFactory(external_id="quiet", name="Quiet Dental", signed_up_at=now - timedelta(days=40))
    events = []
    for days_ago in range(1, 35):
        at = (now - timedelta(days=days_ago)).isoformat()
        events += [{"tenant": busy.external_id, "name": f"feature.f{k}", "occurred_at": at} for k in range(5)]
        if days_ago > 12:
            events.append({"tenant": quiet.external_id, "name": "call.handled", "occurred_at": at})
    events_ingest(events=events, bound_tenant=None, now=now)
    health_backfill_history(now=now, days=30)
    health_recompute_all(now=now)
    return busy, quiet


def test_csm_opens_a_tenant_and_reads_why_it_is_critical(page: Page, live_server, artifacts_dir):
    maria = UserFactory(username="maria", roles=[StaffRole.CSM])
    busy, quiet = scored_portfolio()
    Tenant.objects.filter(id__in=[busy.id, quiet.id]).update(csm_owner=maria)
    log_in(page, live_server, "maria")

    # Home: her book by health; the critical count opens the list behind it.
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
    critical = page.locator(".tile", has_text="Critical")
    expect(critical.get_by_role("link")).to_have_text("1")
    expect(page.get_by_role("img", name="Health distribution")).to_be_visible()
    page.screenshot(path=artifacts_dir / "home-csm.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=artifacts_dir / "home-csm-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 800})
    critical.get_by_role("link").click()

    expect(page.locator("#tenant-table tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Quiet Dental").click()

    expect(page.get_by_role("heading", name="Quiet Dental")).to_be_visible()
    expect(page.locator(".pill.bucket-critical")).to_have_text("Critical")
    expect(page.get_by_text("0 active days in the last 7 (target 5)")).to_be_visible()
    expect(page.get_by_role("img", name="Health score from")).to_be_visible()
    page.screenshot(path=artifacts_dir / "tenant-detail-critical.png", full_page=True)


def test_cs_lead_drafts_back_tests_and_publishes_a_new_model(page: Page, live_server, artifacts_dir):
    UserFactory(username="alex", roles=[StaffRole.CS_LEAD])
    scored_portfolio()
    log_in(page, live_server, "alex")

    page.get_by_role("link", name="Health model").click()
    expect(page.get_by_role("heading", name="v1 · Seeded blend Published")).to_be_visible()
    page.get_by_role("link", name="New version", exact=True).click()
    page.get_by_label("Name").fill("Stickiness first")
    page.get_by_label("Active days (stickiness) weight").fill("60")
    page.get_by_label("Error rate thresholds").fill("0 to 100")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("alert").first).to_contain_text("needs an arrow")
    page.screenshot(path=artifacts_dir / "health-model-form-error.png", full_page=True)

    page.get_by_label("Error rate thresholds").fill("0→100, 2→80, 5→40, 10→0")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name="Back-test")).to_be_visible()
    expect(page.get_by_role("heading", name="v2 · Stickiness first Draft")).to_be_visible()
    page.screenshot(path=artifacts_dir / "health-backtest.png", full_page=True)

    page.get_by_role("button", name="Publish v2").click()
    expect(page.get_by_text("v2 is published")).to_be_visible()
    expect(page.get_by_role("heading", name="v2 · Stickiness first Published")).to_be_visible()
    page.screenshot(path=artifacts_dir / "health-models.png", full_page=True)


def test_csm_opens_system_status_from_the_nav(page: Page, live_server, artifacts_dir):
    """The status page a CSM reaches from the navigation: every check with its verdict and
    thresholds, at desktop and phone width (no sideways scrolling)."""
    UserFactory(username="maria", roles=[StaffRole.CSM])
    log_in(page, live_server, "maria")

    page.get_by_role("navigation", name="Cockpit").get_by_role("link", name="Status").click()

    expect(page.get_by_role("heading", name="System status")).to_be_visible()
    checks = page.locator("#status-checks tbody tr")
    # tick, queue, outbox failures, sends in review, Stripe's and Twilio's webhooks, ingest
    expect(checks).to_have_count(7)
    expect(page.locator("#status-checks")).to_contain_text("Twilio webhooks")
    expect(checks.first).to_contain_text("Last tick")
    expect(checks.first).to_contain_text("never")  # no tick ran against the test database
    expect(page.get_by_text("Down: act now")).to_be_visible()
    page.screenshot(path=artifacts_dir / "system-status.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=artifacts_dir / "system-status-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
