"""The alert queue in a real browser: a CSM acknowledges, snoozes and resolves alerts, each
swapped in place by htmx without a page reload; a resolve without a note is refused (by the
browser, and by the server when the browser's check is bypassed); the keyboard (j, a) works
the first alert. Screenshots of the queue before and after, and of the rules page, go to
docs/screenshots/."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from alerts.models import Alert, AlertRule
from onboarding.services import onboarding_start

from .alert_helpers import evaluate, set_current_score
from .factories import TenantFactory
from .test_browser import browser_type_launch_args  # noqa: F401  (Debian's Chromium)
from .test_browser_playbooks import SCREENSHOTS, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NOTE = "Integration key was rotated; reconnected it with the owner on a call"


def shot(page: Page, name: str) -> None:
    # caret="initial": hiding the caret leaves style="" on the page's inputs, which htmx's settle
    # then copies onto swapped rows — refused by the CSP (style-src 'self') and logged as errors.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True, caret="initial")


def portfolio(csm):
    """Four tenants of the CSM, signed up 30 days ago, none of which ever sent an event: each
    gets a no_activity alert (assigned to the CSM) and an onboarding_incomplete one (the CS
    lead's queue); Cedar's critical health score adds a health_critical alert."""
    now = timezone.now()
    tenants = {
        key: TenantFactory(external_id=key, name=name, signed_up_at=now - timedelta(days=30), csm_owner=csm)
        for key, name in [
            ("harbor", "Harbor HVAC"),
            ("maple", "Maple Dental"),
            ("birch", "Birch Law"),
            ("cedar", "Cedar Realty"),
        ]
    }
    for tenant in tenants.values():
        onboarding_start(tenant=tenant)
    set_current_score(tenants["cedar"], 30, now)
    evaluate(now)
    return tenants


def alert_of(tenant, rule: str) -> Alert:
    return Alert.objects.for_tenant(tenant).get(rule__slug=rule)


def status_of(row):
    """The row's status line (the small text under its severity; the first cell is the tick box)."""
    return row.locator("td").nth(1).locator("small")


def test_csm_works_the_alert_queue_in_place(page: Page, live_server, csm):
    tenants = portfolio(csm)
    assert Alert.all_tenants.filter(assignee=csm, status=Alert.Status.OPEN).count() == 5
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, live_server, "csm")

    page.get_by_role("navigation", name="Cockpit").get_by_role("link", name="Alerts").click()
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    rows = page.locator("#alert-table tr.alert-row")
    expect(rows).to_have_count(9)
    expect(page.get_by_text("9 open · 5 yours · 0 past their SLA · 0 P1.")).to_be_visible()
    shot(page, "30-alert-queue")

    # The queue is most urgent first: all P2 with the same SLA, so the oldest (lowest id) first.
    first_id = int(rows.first.get_attribute("id").removeprefix("alert-"))
    first = Alert.all_tenants.get(id=first_id)
    assert first.status == Alert.Status.OPEN
    targets = {
        "ack": alert_of(tenants["harbor"], "no_activity"),
        "snooze": alert_of(tenants["maple"], "no_activity"),
        "resolve": alert_of(tenants["birch"], "no_activity"),
        "refused": alert_of(tenants["cedar"], "no_activity"),
    }
    assert first_id not in {a.id for a in targets.values()}
    row = {key: page.locator(f"#alert-{a.id}") for key, a in targets.items()}

    # Every action below swaps its row with htmx: the page (and this marker) stays.
    page.evaluate("window.__marker = 1")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    # Acknowledge.
    expect(status_of(row["ack"])).to_have_text("Open")
    row["ack"].get_by_role("button", name="Acknowledge").click()
    expect(status_of(row["ack"])).to_have_text("Acknowledged")
    expect(row["ack"].get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(row["ack"]).to_contain_text("Met")  # acknowledged within its SLA

    # Snooze for one hour (the preset).
    row["snooze"].get_by_label("Snooze for").select_option(label="1 hour")
    row["snooze"].get_by_role("button", name="Snooze").click()
    expect(status_of(row["snooze"])).to_contain_text("Snoozed until")
    targets["snooze"].refresh_from_db()
    until = targets["snooze"].snoozed_until
    assert abs(until - (timezone.now() + timedelta(hours=1))) < timedelta(minutes=2)
    expect(status_of(row["snooze"])).to_have_text(f"Snoozed until {until:%-d %b %H:%M} UTC")

    # Resolve with a note.
    row["resolve"].get_by_label("How it was resolved").fill(NOTE)
    row["resolve"].get_by_role("button", name="Resolve").click()
    expect(status_of(row["resolve"]).first).to_have_text("Resolved")
    expect(row["resolve"]).to_contain_text(f"resolved by csm: {NOTE}")
    expect(row["resolve"].get_by_role("button")).to_have_count(0)  # nothing left to do

    # Resolve without a note: the browser refuses to send the form…
    note = row["refused"].get_by_label("How it was resolved")
    sent = len(posts)
    row["refused"].get_by_role("button", name="Resolve").click()
    assert note.evaluate("el => el.validity.valueMissing") is True
    page.wait_for_timeout(300)
    assert len(posts) == sent
    # …and with the browser's check out of the way, the server refuses it (422, the row re-rendered).
    note.evaluate("el => el.removeAttribute('required')")
    with page.expect_response(lambda r: r.url.endswith(f"/alerts/{targets['refused'].id}/resolve/")) as answer:
        row["refused"].get_by_role("button", name="Resolve").click()
    assert answer.value.status == 422
    expect(row["refused"].get_by_role("alert")).to_have_text("Say how it was resolved: a note is required.")
    expect(status_of(row["refused"])).to_have_text("Open")
    expect(row["refused"].get_by_label("How it was resolved")).to_have_attribute("required", "")
    shot(page, "31-alert-queue-worked")

    # The keyboard: j focuses the first alert, a acknowledges it, the focus stays on its row.
    page.locator("h1").click()  # nothing focused
    page.keyboard.press("j")
    expect(rows.first).to_be_focused()
    expect(status_of(rows.first)).to_have_text("Open")
    page.keyboard.press("a")
    expect(status_of(page.locator(f"#alert-{first_id}"))).to_have_text("Acknowledged")
    expect(page.locator(f"#alert-{first_id}")).to_be_focused()
    page.keyboard.press("j")  # and moves on from there
    expect(rows.nth(1)).to_be_focused()
    shot(page, "32-alert-queue-keyboard")

    assert page.evaluate("window.__marker") == 1  # never reloaded
    for a in [*targets.values(), first]:
        a.refresh_from_db()
    assert targets["ack"].status == Alert.Status.ACKNOWLEDGED and targets["ack"].acknowledged_by == csm
    assert targets["snooze"].status == Alert.Status.SNOOZED
    assert targets["resolve"].status == Alert.Status.RESOLVED
    assert targets["resolve"].resolution == f"resolved by csm: {NOTE}" and targets["resolve"].rearm_pending
    assert targets["refused"].status == Alert.Status.OPEN and targets["refused"].resolved_at is None
    assert first.status == Alert.Status.ACKNOWLEDGED and first.acknowledged_by == csm

    # Reloaded, the queue shows the active alerts only: the resolved one is gone.
    page.reload()
    expect(rows).to_have_count(8)
    expect(page.locator(f"#alert-{targets['resolve'].id}")).to_have_count(0)
    expect(page.get_by_text("5 open · 4 yours · 0 past their SLA · 0 P1.")).to_be_visible()
    shot(page, "33-alert-queue-after")

    page.get_by_role("navigation", name="Alert pages").get_by_role("link", name="Rules").click()
    expect(page.get_by_role("heading", name="Alert rules")).to_be_visible()
    expect(page.locator("#rule-table tbody tr")).to_have_count(AlertRule.objects.count())
    expect(page.locator("#rule-no_activity")).to_contain_text("Enabled")
    expect(page.locator("#rule-no_activity").get_by_role("link", name="3")).to_be_visible()  # 3 still active
    expect(page.locator("#rule-subscription_past_due")).to_contain_text("Enabled")  # billing brought its facts
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)  # a CSM reads, the CS lead edits
    shot(page, "34-alert-rules")
    # The refused resolve answers 422 on purpose (the row with its error); nothing else may fail.
    assert [e for e in errors if "status of 422" not in e] == [], errors
