"""axe-core on every page a person uses (issue 15): one URL of each cockpit route for a CS
lead who is also an admin (every page open to them), and every page of a tenant owner, in
Chromium on the demo's data. No serious or critical violation anywhere; the list of what was
found names the page, the rule and the elements.

About 60 pages at roughly half a second each (axe runs its ~90 rules on the live DOM), plus
the demo seed: this test takes 40-60 s on the 2-core CI machine."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page

from core.roles import StaffRole
from cs_cockpit.demo_data import seed_demo
from tenants.models import Membership

from .axe import axe_violations
from .factories import UserFactory
from .test_browser import browser_type_launch_args  # noqa: F401  (Debian's Chromium)
from .test_browser_playbooks import log_in
from .test_rendered_pages import OWNER_KWARGS, STAFF_KWARGS, owner_pages, page_urls

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def one_per_route(urls: list[str]) -> list[str]:
    """The first URL of each distinct path shape (one tenant page, not fourteen)."""
    seen, picked = set(), []
    for url in urls:
        if url.endswith((".csv", "/export/")):
            continue  # downloads, not pages
        shape = tuple("*" if any(ch.isdigit() for ch in part) or "-" in part else part for part in url.split("/"))
        if shape not in seen:
            seen.add(shape)
            picked.append(url)
    return picked


def test_no_page_has_a_serious_or_critical_accessibility_violation(page: Page, live_server):
    seed_demo(tenants=6, days=20, now=timezone.now(), seed=7)
    UserFactory(username="lead-admin", is_staff=True, roles=[StaffRole.CS_LEAD, StaffRole.ADMIN])
    problems: list[str] = []
    checked = 0

    log_in(page, live_server, "lead-admin")
    for url in one_per_route(page_urls({"staff", "login"}, STAFF_KWARGS)):
        response = page.goto(f"{live_server.url}{url}")
        if response is None or response.status >= 400 or "html" not in response.headers.get("content-type", ""):
            continue
        checked += 1
        problems += [f"{url}: {p}" for p in axe_violations(page)]

    owner = Membership.all_tenants.filter(role=Membership.Role.OWNER).select_related("user", "tenant").first()
    owner.user.set_password("pw-owner-axe-1")
    owner.user.save(update_fields=["password"])
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(owner.user.username)
    page.get_by_label("Password").fill("pw-owner-axe-1")
    page.get_by_role("button", name="Log in").click()
    for url in page_urls({"owner", "login"}, OWNER_KWARGS)[:20] + owner_pages(owner.tenant):
        response = page.goto(f"{live_server.url}{url}")
        if response is None or response.status >= 400:
            continue
        checked += 1
        problems += [f"owner {url}: {p}" for p in axe_violations(page)]

    print(f"axe: {checked} pages checked")
    assert checked >= 30, checked
    assert not problems, "\n".join(problems)
