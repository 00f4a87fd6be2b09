"""The past-due queue in a real browser: billing ops open it from the top nav, resend a portal
link, mark a tenant contacted (refused without a note), pause and resume dunning and escalate
to the CSM, each row swapped in place by htmx without a page reload; then the revenue page.
A tenant owner reads their own billing page. Every Stripe state comes from signed webhooks
fed to the real service (signed now: the signature's age is checked against the wall clock),
with the dunning run and the subscription_past_due alert from the real tick. Screenshots go
to docs/screenshots/."""

import re
from datetime import UTC, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Page, expect

from alerts.models import Alert
from billing import payloads
from billing.models import Subscription
from billing.revenue import revenue_summary
from billing.selectors import days_past_due
from core.ticks import run_tick
from messaging import sms
from playbooks.dunning import dunning_progress
from tenants.models import AuditLog

from .alert_helpers import tenant_at
from .billing_helpers import StripeStory, feed, stripe_settings
from .test_browser import browser_type_launch_args  # noqa: F401  (Debian's Chromium)
from .test_browser_alerts import shot
from .test_browser_playbooks import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NOTE = "Owner pays on Friday, promised on the phone"
PAUSE_NOTE = "Waiting for the owner's new card"


@pytest.fixture(autouse=True)
def stripe(settings):
    stripe_settings(settings)


def past_due(external_id, name, csm, *, since, retries):
    """A tenant whose renewal failed `since` ago, then retried: `retries` is [(ago, next retry in)]."""
    now = timezone.now()
    tenant = tenant_at(
        external_id,
        signed_up_at=now - timedelta(days=120),
        onboarding=False,
        name=name,
        owner_name="Dana Reyes",
        owner_email=f"dana@{external_id}.example",
        owner_phone="+15555550123",
        sms_consent_at=now - timedelta(days=120),
        csm_owner=csm,
    )
    story = StripeStory(tenant)
    story.customer(at=now - timedelta(days=60))  # Visa ····4242 · exp 12/2030
    story.status("active", at=now - timedelta(days=60), event="customer.subscription.created")
    story.go_past_due(at=now - since)
    for attempt, (ago, next_in) in enumerate(retries, start=2):
        story.invoice("invoice.payment_failed", at=now - ago, attempt=attempt, next_attempt=next_in)
    return Subscription.objects.for_tenant(tenant).get()


def billing_desk(csm):
    """Two past-due tenants at different retry stages, a live tenant whose card expires this
    month, and a Stripe subscription no tenant matched; then the tick starts their dunning."""
    now = timezone.now()
    harbor = past_due(
        "harbor",
        "Harbor Dental",
        csm,
        since=timedelta(days=9, minutes=5),
        retries=[(timedelta(days=6), timedelta(days=3)), (timedelta(days=1), timedelta(days=4))],
    )
    birch = past_due("birch", "Birch Law", csm, since=timedelta(days=2, minutes=5), retries=[])
    maple = tenant_at("maple", signed_up_at=now - timedelta(days=120), onboarding=False, name="Maple Salon")
    story = StripeStory(maple, plan="starter")
    story.customer(at=now - timedelta(days=30), exp_month=now.month, exp_year=now.year)
    story.status("active", at=now - timedelta(days=30), event="customer.subscription.created")
    feed(
        "customer.subscription.created",
        payloads.subscription_object(
            subscription_id="sub_orphan",
            customer_id="cus_orphan",
            status="past_due",
            price_id="price_pro",
            unit_amount=4900,
            period_start=now - timedelta(days=3),
        ),
        created=now - timedelta(days=3),
    )
    run_tick(now=timezone.now())
    return harbor, birch


def act(page: Page, url_end: str):
    """Waits for the htmx POST ending in `url_end`; the caller clicks inside the block."""
    return page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(url_end))


def test_billing_ops_works_the_past_due_queue_in_place(page: Page, live_server, billing_ops, csm):
    harbor, birch = billing_desk(csm)
    for subscription in (harbor, birch):
        assert Alert.objects.for_tenant(subscription.tenant).filter(rule__slug="subscription_past_due").exists()
    progress = dunning_progress(tenant_ids=[harbor.tenant_id, birch.tenant_id])
    assert set(progress) == {harbor.tenant_id, birch.tenant_id}  # the tick started both dunning runs
    mail.outbox.clear()
    sms.outbox.clear()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, live_server, "billing-ops")

    # 1. The queue, from the top nav: both rows, oldest episode first.
    page.get_by_role("navigation", name="Cockpit").get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Past due", exact=True)).to_be_visible()
    rows = page.locator("#past-due tr.queue-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_id(f"subscription-{harbor.id}")
    expect(rows.nth(1)).to_have_id(f"subscription-{birch.id}")
    row = {"harbor": page.locator(f"#subscription-{harbor.id}"), "birch": page.locator(f"#subscription-{birch.id}")}
    now = timezone.now()
    for key, subscription in (("harbor", harbor), ("birch", birch)):
        subscription.refresh_from_db()
        invoice = subscription.latest_invoice
        cells = row[key].locator("td")
        expect(cells.nth(0)).to_contain_text(subscription.tenant.name)
        expect(cells.nth(0)).to_contain_text("Past due")
        expect(cells.nth(1)).to_contain_text("$49.00")
        days = days_past_due(subscription, now)
        expect(cells.nth(1)).to_contain_text(f"{days} days past due (since {subscription.past_due_since:%-d %b})")
        next_retry = invoice.next_payment_attempt.astimezone(UTC)
        expect(cells.nth(2)).to_contain_text(f"attempt {invoice.attempt_count}")
        expect(cells.nth(2)).to_contain_text(f"next {next_retry:%-d %b %H:%M} UTC")
        expect(cells.nth(3)).to_have_text("Visa ····4242 · exp 12/2030")
        expect(cells.nth(4)).to_contain_text(progress[subscription.tenant_id].label)
        expect(cells.nth(5)).to_contain_text("Casey Morgan")
    assert (days_past_due(harbor, now), harbor.latest_invoice.attempt_count) == (9, 3)
    assert (days_past_due(birch, now), birch.latest_invoice.attempt_count) == (2, 1)
    expiring = page.locator("#expiring-cards")
    expect(expiring.locator("tbody tr")).to_have_count(1)
    expect(expiring).to_contain_text("Maple Salon")
    expect(expiring).to_contain_text(f"exp {now.month:02d}/{now.year}")
    expect(page.locator("#unmatched")).to_contain_text("sub_orphan")
    expect(page.locator("#unmatched")).to_contain_text("cus_orphan")
    tiles = page.get_by_role("region", name="Revenue")
    expect(tiles).to_contain_text("MRR")
    expect(tiles).to_contain_text("ARR")
    expect(tiles).to_contain_text("MRR at risk")
    shot(page, "40-billing-queue")

    # Every action below swaps its row with htmx: the page (and this marker) stays.
    page.evaluate("window.__marker = 1")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    # 2. Resend the portal link to Harbor, by email only.
    row["harbor"].get_by_label("SMS").uncheck()
    with act(page, f"/subscriptions/{harbor.id}/resend/") as answer:
        row["harbor"].get_by_role("button", name="Resend portal link").click()
    assert answer.value.status == 200
    expect(row["harbor"].get_by_role("status")).to_have_text("Sent: email to dana@harbor.example")
    [email] = [m for m in mail.outbox if m.to == ["dana@harbor.example"]]
    assert email.subject == "Update your payment details for Harbor Dental"
    assert "/billing/portal/" in email.body
    assert sms.outbox == []
    assert AuditLog.objects.filter(action="billing.portal_link_sent", actor=billing_ops).count() == 1
    shot(page, "41-billing-resend")

    # 3. Mark contacted without a note: the browser refuses to send the form…
    note = row["harbor"].get_by_label("What was agreed")
    sent = len(posts)
    row["harbor"].get_by_role("button", name="Mark contacted").click()
    assert note.evaluate("el => el.validity.valueMissing") is True
    page.wait_for_timeout(300)
    assert len(posts) == sent
    # …and with the browser's check out of the way, the server refuses it (422, the row re-rendered).
    note.evaluate("el => el.removeAttribute('required')")
    with act(page, f"/subscriptions/{harbor.id}/contacted/") as answer:
        row["harbor"].get_by_role("button", name="Mark contacted").click()
    assert answer.value.status == 422
    expect(row["harbor"].get_by_role("alert")).to_have_text("Say what was agreed: a note is required.")
    expect(row["harbor"].get_by_label("What was agreed")).to_have_attribute("required", "")
    assert not AuditLog.objects.filter(action="billing.contacted").exists()
    # With a note.
    row["harbor"].get_by_label("What was agreed").fill(NOTE)
    with act(page, f"/subscriptions/{harbor.id}/contacted/") as answer:
        row["harbor"].get_by_role("button", name="Mark contacted").click()
    assert answer.value.status == 200
    expect(row["harbor"].get_by_role("status")).to_have_text("Marked as contacted")
    expect(row["harbor"].get_by_role("alert")).to_have_count(0)
    expect(row["harbor"].locator("td").nth(4)).to_contain_text(f"contacted {timezone.now():%-d %b}: {NOTE}")
    assert AuditLog.objects.filter(action="billing.contacted", actor=billing_ops).count() == 1

    # 4. Pause dunning with a note, then resume it.
    row["harbor"].get_by_label("Why pause dunning").fill(PAUSE_NOTE)
    with act(page, f"/subscriptions/{harbor.id}/pause/") as answer:
        row["harbor"].get_by_role("button", name="Pause dunning").click()
    assert answer.value.status == 200
    expect(row["harbor"].get_by_role("status")).to_have_text("Dunning paused: the next tick stops its messages")
    dunning = row["harbor"].locator("td").nth(4)
    expect(dunning).to_contain_text("Paused")
    expect(dunning).to_contain_text("by billing-ops")
    expect(dunning).to_contain_text(PAUSE_NOTE)
    expect(row["harbor"].get_by_role("button", name="Pause dunning")).to_have_count(0)
    shot(page, "42-billing-paused")
    with act(page, f"/subscriptions/{harbor.id}/resume/") as answer:
        row["harbor"].get_by_role("button", name="Resume dunning").click()
    assert answer.value.status == 200
    expect(row["harbor"].get_by_role("status")).to_have_text("Dunning resumed: the next tick sends what is still due")
    expect(dunning).not_to_contain_text("Paused")
    expect(row["harbor"].get_by_role("button", name="Pause dunning")).to_be_visible()
    harbor.refresh_from_db()
    assert harbor.dunning_paused_at is None and harbor.dunning_resumes == 1
    assert harbor.last_contacted_by == billing_ops and harbor.last_contact_note == NOTE

    # 5. Escalate Birch Law to its CSM.
    row["birch"].get_by_label("Note for the CSM").fill("Third card this year")
    with act(page, f"/subscriptions/{birch.id}/escalate/") as answer:
        row["birch"].get_by_role("button", name="Escalate to CSM").click()
    assert answer.value.status == 200
    expect(row["birch"].get_by_role("status")).to_have_text(
        "Escalated to Casey Morgan: the email to csm@example.com went out"
    )
    expect(row["birch"].locator("td").nth(5)).to_contain_text(f"escalated {timezone.now():%-d %b}")
    expect(row["birch"].get_by_role("button", name="Escalate to CSM")).to_have_count(0)
    [escalation] = [m for m in mail.outbox if m.to == [csm.email]]
    assert escalation.subject == "Past due: Birch Law needs you"
    assert "Billing ops: Third card this year" in escalation.body
    birch.refresh_from_db()
    assert birch.escalated_to == csm
    assert page.evaluate("window.__marker") == 1  # never reloaded

    # 6. Revenue & recovery.
    page.get_by_role("navigation", name="Billing pages").get_by_role("link", name="Revenue & recovery").click()
    expect(page.get_by_role("heading", name="Revenue & recovery")).to_be_visible()
    summary = revenue_summary(now=timezone.now())
    # Harbor and Birch ($49 each, past due) and Maple ($19, at risk: it never sent an event).
    assert (summary.mrr_cents, summary.mrr_at_risk_cents, summary.past_due) == (11700, 11700, 2)
    tiles = page.get_by_role("region", name="Revenue now").locator(".tile")
    expect(tiles.locator(".label")).to_have_text(["MRR", "ARR", "MRR at risk", "Trialing", "Past due"])
    expect(tiles.locator("strong")).to_have_text(["$117.00", "$1,404.00", "$117.00", "0", "2"])
    expect(page.locator("#mrr-movements tbody tr")).to_have_count(12)
    expect(page.locator("#mrr-movements tbody tr").last).to_contain_text(f"{now:%b %Y}")
    expect(page.locator("#recovery tbody tr")).to_have_count(4)  # by day 7, 14, 30 and 60
    expect(page.locator("#recovery")).to_contain_text("still open")
    shot(page, "43-billing-revenue")
    # The refused "contacted" answers 422 on purpose (the row with its error); nothing else may fail.
    assert [e for e in errors if "status of 422" not in e] == [], errors


def test_tenant_owner_reads_their_billing_page(page: Page, live_server, owner_a, tenant_a):
    now = timezone.now()
    story = StripeStory(tenant_a)
    story.customer(at=now - timedelta(days=20), exp_month=8, exp_year=2029)
    story.status("active", at=now - timedelta(days=20), event="customer.subscription.created")
    subscription = Subscription.objects.for_tenant(tenant_a).get()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, live_server, "owner-a")

    page.get_by_role("navigation", name="Your account").get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Billing for Acme Plumbing")).to_be_visible()
    plan = page.get_by_role("region", name="Your plan")
    expect(plan).to_contain_text("Professional")
    expect(plan.locator(".badge")).to_have_text("Active")
    expect(plan).to_contain_text(f"$49.00 on {subscription.current_period_end:%-d %b %Y}")
    expect(plan).to_contain_text("Visa ····4242 · exp 08/2029")
    manage = plan.get_by_role("button", name="Manage billing")
    expect(manage).to_be_visible()  # not clicked: it would call Stripe
    form = manage.locator("xpath=ancestor::form")
    expect(form).to_have_attribute("action", "/billing/manage/")
    expect(form).to_have_attribute("method", "post")
    expect(page.get_by_role("button", name="Start with Starter")).to_have_count(0)  # subscribed already
    shot(page, "44-owner-billing")
    assert errors == [], errors


def test_no_template_source_shows_on_the_billing_pages(page: Page, live_server, billing_ops):
    log_in(page, live_server, "billing-ops")
    page.goto(f"{live_server.url}/admin/billing/")
    expect(page.get_by_role("heading", name="Past due", exact=True)).to_be_visible()
    assert "{#" not in page.locator("body").inner_text()


def test_revenue_tiles_keep_label_and_figure_apart(page: Page, live_server, billing_ops):
    log_in(page, live_server, "billing-ops")
    page.goto(f"{live_server.url}/admin/billing/revenue/")
    tile = page.get_by_role("region", name="Revenue now").locator(".tile").first
    expect(tile.locator(".label")).to_have_text("MRR")
    assert re.match(r"MRR\s+\$0\.00", tile.inner_text()), tile.inner_text()
