"""axe-core on every page a person uses (issue 15): one URL of each cockpit route for a CS
lead who is also an admin (every page open to them), and every page of a tenant owner, in
Chromium on the demo's data, at 1280 and at 390 px. No serious or critical violation
anywhere; the list of what was found names the page, the width, the rule and the elements.
Each page's first screen at each width is saved to docs/screenshots/pages/.

About 60 pages twice at roughly half a second each (axe runs its ~90 rules on the live DOM),
plus the demo seed: this test takes 80-120 s on the 2-core CI machine."""

from __future__ import annotations

import re
from pathlib import Path

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


SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots" / "pages"
WIDTHS = {1280: 800, 390: 844}  # desktop, and a phone (iPhone 14's CSS pixels)


def shot_name(who: str, url: str) -> str:
    # A signed token in the path (survey, unsubscribe) differs on every run: named by its place.
    # and a row's id differs with the data: named by their kind, so a rerun replaces the file.
    parts = url.strip("/").split("/")
    path = "_".join("token" if len(p) > 30 else "id" if p.isdigit() else p for p in parts) or "root"
    return f"{who}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', path)[:90]}.jpg"


def check_pages(page: Page, live_server, who: str, urls: list[str], problems: list[str]) -> int:
    """Opens each URL at every width: axe on the page as it stands, and its first screen saved
    to docs/screenshots/pages/<width>/ (JPEG, so the whole set stays a few MB)."""
    checked = 0
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        (SHOTS / str(width)).mkdir(parents=True, exist_ok=True)
        for url in urls:
            response = page.goto(f"{live_server.url}{url}")
            if response is None or response.status >= 400 or "html" not in response.headers.get("content-type", ""):
                continue
            checked += 1
            problems += [f"{who} {url} at {width} px: {p}" for p in axe_violations(page)]
            page.screenshot(path=SHOTS / str(width) / shot_name(who, url), type="jpeg", quality=55)
    return checked


def test_no_page_has_a_serious_or_critical_accessibility_violation(page: Page, live_server):
    seed_demo(tenants=6, days=20, now=timezone.now(), seed=7)
    UserFactory(username="lead-admin", is_staff=True, roles=[StaffRole.CS_LEAD, StaffRole.ADMIN])
    problems: list[str] = []

    log_in(page, live_server, "lead-admin")
    checked = check_pages(
        page, live_server, "staff", one_per_route(page_urls({"staff", "login"}, STAFF_KWARGS)), problems
    )

    owner = Membership.all_tenants.filter(role=Membership.Role.OWNER).select_related("user", "tenant").first()
    owner.user.set_password("pw-owner-axe-1")
    owner.user.save(update_fields=["password"])
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(owner.user.username)
    page.get_by_label("Password").fill("pw-owner-axe-1")
    page.get_by_role("button", name="Log in").click()
    owner_urls = page_urls({"owner", "login"}, OWNER_KWARGS)[:20] + owner_pages(owner.tenant)
    checked += check_pages(page, live_server, "owner", owner_urls, problems)

    print(f"axe: {checked} page views checked at {', '.join(map(str, WIDTHS))} px")
    assert checked >= 60, checked
    assert not problems, "\n".join(problems)
