"""The past-due queue at /admin/billing/: what billing ops see on one row, the htmx actions
(resend the portal link, mark contacted, pause and resume dunning, escalate), each audited
and on the timeline; refusals that name the problem; who may see it; queries pinned."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import payloads
from billing.models import Subscription
from core.ticks import run_tick
from messaging import sms
from messaging.models import Suppression
from playbooks.models import Channel
from tenants.models import AuditLog, TimelineEntry

from .alert_helpers import NOW, tenant_at
from .billing_helpers import StripeStory, feed, stripe_settings

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stripe(settings):
    stripe_settings(settings)


@pytest.fixture
def past_due(csm):
    tenant = tenant_at(
        "harbor",
        signed_up_at=NOW - timedelta(days=90),
        onboarding=False,
        name="Harbor Dental",
        owner_name="Dana Reyes",
        owner_email="dana@harbor.example",
        owner_phone="+15555550123",
        sms_consent_at=NOW - timedelta(days=90),
        csm_owner=csm,
    )
    story = StripeStory(tenant)
    story.customer(at=NOW - timedelta(days=60), exp_month=12, exp_year=2026)
    story.status("active", at=NOW - timedelta(days=60), event="customer.subscription.created")
    story.go_past_due(at=NOW - timedelta(days=4))
    story.invoice("invoice.payment_failed", at=NOW - timedelta(days=1), attempt=2, next_attempt=timedelta(days=2))
    return Subscription.objects.for_tenant(tenant).get()


def act(client, subscription, action, **data):
    url = reverse("billing-ops:action", args=[subscription.id, action])
    return client.post(url, data, HTTP_HX_REQUEST="true")


@time_machine.travel(NOW, tick=False)
def test_the_row_shows_what_billing_ops_need(client, billing_ops, past_due, csm):
    run_tick(now=NOW)
    client.force_login(billing_ops)
    page = client.get(reverse("billing-ops:queue")).content.decode()
    row = page.split(f'id="subscription-{past_due.id}"')[1].split("</tr>")[0]
    assert "Harbor Dental" in row and "$49.00" in row
    assert "3 days past due (since 14 Nov)" in row
    assert "attempt 2<br><small>next 19 Nov 15:00 UTC" in row
    assert "Visa ····4242 · exp 12/2026" in row
    # The dunning run started late (the tick saw it on day 4): day 0 was stale and skipped, the
    # day-3 email and SMS went, day 7 is next.
    assert "2 of 9 sent<br><small>next: Day 7 email 21 Nov 15:00 UTC" in row
    assert csm.get_full_name() in row
    # The card works until 31 December: more than 30 days away.
    assert "No card on file expires within 30 days." in page


def test_resend_sends_email_and_sms_with_the_portal_link_once(client, billing_ops, past_due):
    client.force_login(billing_ops)
    with time_machine.travel(NOW, tick=False):
        response = act(client, past_due, "resend", email="1", sms="1")
    assert response.status_code == 200
    assert "Sent: email to dana@harbor.example, SMS to +15555550123" in response.content.decode()
    [email] = [m for m in mail.outbox if m.to == ["dana@harbor.example"]]
    [text] = [m for m in sms.outbox if m.to == "+15555550123"]
    assert "/billing/portal/" in email.body and "/billing/portal/" in text.body
    assert AuditLog.objects.filter(action="billing.portal_link_sent", actor=billing_ops).count() == 1
    assert TimelineEntry.all_tenants.filter(kind="billing.portal_link_sent").count() == 1

    # A double click a minute later: refused, nothing sent twice.
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        again = act(client, past_due, "resend", email="1", sms="1")
    assert again.status_code == 422 and "less than 5 minutes ago" in again.content.decode()
    assert len(mail.outbox) == 1 and len(sms.outbox) == 1


def test_resend_refuses_sms_to_an_opted_out_number_and_no_channel(client, billing_ops, past_due):
    Suppression.objects.create(channel=Channel.SMS, address="+15555550123", reason="opted_out", created_at=NOW)
    client.force_login(billing_ops)
    response = act(client, past_due, "resend", sms="1")
    assert response.status_code == 422 and "+15555550123 replied STOP" in response.content.decode()
    response = act(client, past_due, "resend")
    assert response.status_code == 422  # swapped like a success: the row, with its error
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="subscription-{past_due.id}"') and "Resend portal link" in body
    assert '<p class="error" role="alert">Choose email, SMS or both.</p>' in body
    assert 'name="email" value="1" >' in body  # unticked, as sent
    assert sms.outbox == [] and mail.outbox == []


def test_mark_contacted_needs_a_note_and_is_audited(client, billing_ops, past_due):
    client.force_login(billing_ops)
    refused = act(client, past_due, "contacted", note="  ")
    assert refused.status_code == 422 and "a note is required" in refused.content.decode()
    assert not AuditLog.objects.filter(action="billing.contacted").exists()

    done = act(client, past_due, "contacted", note="Owner pays on Friday")
    assert done.status_code == 200 and "contacted" in done.content.decode()
    past_due.refresh_from_db()
    assert past_due.last_contacted_by == billing_ops and past_due.last_contact_note == "Owner pays on Friday"
    assert AuditLog.objects.filter(action="billing.contacted", actor=billing_ops).count() == 1
    entry = TimelineEntry.all_tenants.get(kind="billing.contacted")
    assert entry.summary == "Billing ops contacted the owner: Owner pays on Friday"


def test_pause_and_resume_dunning(client, billing_ops, past_due):
    client.force_login(billing_ops)
    assert act(client, past_due, "pause", note="").status_code == 422
    assert act(client, past_due, "pause", note="Promised payment").status_code == 200
    again = act(client, past_due, "pause", note="again")
    assert again.status_code == 422 and "already paused" in again.content.decode()
    past_due.refresh_from_db()
    assert past_due.dunning_paused_by == billing_ops
    assert act(client, past_due, "resume").status_code == 200
    past_due.refresh_from_db()
    assert past_due.dunning_paused_at is None and past_due.dunning_resumes == 1
    actions = list(AuditLog.objects.filter(action__startswith="billing.dunning").values_list("action", flat=True))
    assert sorted(actions) == ["billing.dunning_paused", "billing.dunning_resumed"]


def test_escalate_emails_the_csm(client, billing_ops, past_due, csm, django_capture_on_commit_callbacks):
    client.force_login(billing_ops)
    with django_capture_on_commit_callbacks(execute=True):
        response = act(client, past_due, "escalate", note="Card keeps failing")
    assert response.status_code == 200
    [email] = [m for m in mail.outbox if m.to == [csm.email]]
    assert email.subject == "Past due: Harbor Dental needs you"
    assert "Billing ops: Card keeps failing" in email.body and "/admin/customer-success/tenants/harbor/" in email.body
    past_due.refresh_from_db()
    assert past_due.escalated_to == csm
    assert TimelineEntry.all_tenants.filter(kind="billing.escalated").count() == 1


def test_actions_on_a_paid_subscription_are_refused(client, billing_ops, past_due):
    StripeStory(past_due.tenant).invoice("invoice.paid", at=NOW)
    client.force_login(billing_ops)
    response = act(client, past_due, "pause", note="too late")
    assert response.status_code == 422 and "is active, not past due" in response.content.decode()


def test_other_staff_and_tenants_cannot_work_the_queue(client, personas, past_due):
    for name in ("csm", "cs_lead", "owner_a"):
        client.force_login(personas.users[name])
        assert client.get(reverse("billing-ops:queue")).status_code == 403
        assert act(client, past_due, "contacted", note="x").status_code == 403
    client.force_login(personas.users["billing_ops"])
    assert client.post(reverse("billing-ops:action", args=[past_due.id, "delete"])).status_code == 404


def test_an_unmatched_subscription_is_listed_not_actionable(client, billing_ops):
    feed(
        "customer.subscription.created",
        payloads.subscription_object(
            subscription_id="sub_orphan",
            customer_id="cus_orphan",
            status="past_due",
            price_id="price_pro",
            unit_amount=4900,
            period_start=NOW - timedelta(days=3),
        ),
        created=NOW - timedelta(days=3),
    )
    orphan = Subscription.all_tenants.get(stripe_id="sub_orphan")
    client.force_login(billing_ops)
    page = client.get(reverse("billing-ops:queue")).content.decode()
    assert "sub_orphan" in page and "cus_orphan" in page
    assert act(client, orphan, "contacted", note="who?").status_code == 404


def test_expiring_cards_are_listed(client, billing_ops, csm):
    tenant = tenant_at("maple", signed_up_at=NOW - timedelta(days=90), onboarding=False, name="Maple Salon")
    story = StripeStory(tenant)
    story.customer(at=NOW - timedelta(days=30), exp_month=11, exp_year=2026)
    story.status("active", at=NOW - timedelta(days=30), event="customer.subscription.created")
    client.force_login(billing_ops)
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("billing-ops:queue")).content.decode()
    section = page.split('id="expiring-cards"')[1]
    assert "Maple Salon" in section and "30 Nov 2026" in section


def test_queue_queries_do_not_grow_with_rows(client, billing_ops, csm):
    client.force_login(billing_ops)
    for index in range(3):
        tenant = tenant_at(f"t{index}", signed_up_at=NOW - timedelta(days=90), onboarding=False, csm_owner=csm)
        story = StripeStory(tenant)
        story.customer(at=NOW - timedelta(days=30))
        story.status("active", at=NOW - timedelta(days=30), event="customer.subscription.created")
        story.go_past_due(at=NOW - timedelta(days=2))
    with CaptureQueriesContext(connection) as three:
        assert client.get(reverse("billing-ops:queue")).status_code == 200
    for index in range(3, 8):
        tenant = tenant_at(f"t{index}", signed_up_at=NOW - timedelta(days=90), onboarding=False, csm_owner=csm)
        story = StripeStory(tenant)
        story.customer(at=NOW - timedelta(days=30))
        story.status("active", at=NOW - timedelta(days=30), event="customer.subscription.created")
        story.go_past_due(at=NOW - timedelta(days=2))
    with CaptureQueriesContext(connection) as eight:
        assert client.get(reverse("billing-ops:queue")).status_code == 200
    # 11 for the past-due queue (its page's count and rows, its escalation emails among them,
    # one query for all rows), + 2 for the churn list and the lapsed trials.
    assert len(eight) == len(three) == 13, [q["sql"][:80] for q in eight.captured_queries]


@time_machine.travel(NOW, tick=False)
def test_billing_ops_resend_the_payment_link_from_the_tenant_page(client, billing_ops, csm, past_due):
    page_url = "/admin/customer-success/tenants/harbor/"
    client.force_login(csm)
    assert 'id="resend-portal-link"' not in client.get(page_url).content.decode()  # not the CSM's job
    client.force_login(billing_ops)
    html = client.get(page_url).content.decode()
    assert 'id="resend-portal-link"' in html
    response = client.post(
        reverse("billing-ops:action", args=[past_due.id, "resend"]), {"email": "1", "next": page_url + "#billing"}
    )
    assert response.status_code == 302 and response["Location"] == page_url + "#billing"
    assert [m.to for m in mail.outbox] == [["dana@harbor.example"]]
    assert TimelineEntry.objects.for_tenant(past_due.tenant).filter(kind="billing.portal_link_sent").count() == 1
