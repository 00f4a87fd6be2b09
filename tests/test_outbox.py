"""The one outbox (issue 14): every producer of a message — touchpoints, alert pushes,
digests, portal-link resends, billing escalations — enqueues a messaging.Message in the
transaction of what it reports, and the outbox sends each once, however often the tick and
the buttons run. A touchpoint delivery decides when; its message is the send."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection

from alerts import notify
from billing.models import Subscription
from billing.services import subscription_escalate
from core.ticks import run_tick
from messaging import outbox, sms
from messaging.models import Message
from playbooks.dunning import portal_link_resend
from playbooks.models import Delivery

from .alert_helpers import NOW, tenant_at
from .billing_helpers import StripeStory, stripe_settings


@pytest.fixture(autouse=True)
def stripe(settings):
    stripe_settings(settings)


def past_due_subscription(csm) -> Subscription:
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
    story.customer(at=NOW - timedelta(days=60))
    story.status("active", at=NOW - timedelta(days=60), event="customer.subscription.created")
    story.go_past_due(at=NOW - timedelta(days=4))
    return Subscription.objects.for_tenant(tenant).get()


@pytest.mark.django_db
def test_every_producer_enqueues_once_and_each_message_leaves_once(csm, cs_lead, billing_ops):
    subscription = past_due_subscription(csm)
    morning = NOW.replace(hour=9)  # the digest hour, CS team time
    for minute in range(3):  # the tick, three times: alerts open and push, touchpoints go
        with time_machine.travel(morning + timedelta(minutes=minute), tick=False):
            run_tick(now=morning + timedelta(minutes=minute))
    later = morning + timedelta(minutes=10)
    resend = portal_link_resend(subscription=subscription, email=True, sms=True, actor=billing_ops, now=later)
    escalation = subscription_escalate(subscription=subscription, note="", actor=billing_ops, now=later)
    subscription_escalate(subscription=subscription, note="again", actor=billing_ops, now=later + timedelta(minutes=1))
    with pytest.raises(ValidationError, match="less than 5 minutes ago"):
        portal_link_resend(subscription=subscription, email=True, sms=True, actor=billing_ops, now=later)
    for minute in range(3):  # and the outbox again: nothing left to send twice
        outbox.messages_dispatch(now=later + timedelta(minutes=2 + minute))

    purposes = Counter(Message.objects.values_list("purpose", flat=True))
    assert purposes["alert.push"] >= 1 and purposes["alert.digest"] >= 1, purposes
    assert purposes["billing.portal_link"] == 2 and purposes["billing.escalation"] == 1, purposes
    assert purposes["touchpoint.email"] >= 1 and purposes["touchpoint.sms"] >= 1, purposes
    assert resend.sent == ["email to dana@harbor.example", "SMS to +15555550123"] and escalation.email_sent
    assert set(Message.objects.values_list("status", flat=True)) <= {"sent", "skipped"}
    # Each email that left is in the mail outbox once, and each text once.
    sent_emails = Message.objects.filter(channel="email", status="sent")
    for message in sent_emails:
        copies = [m for m in mail.outbox if m.to == [message.recipient] and m.subject == message.subject]
        assert len(copies) == 1, (message.purpose, message.subject, len(copies))
    assert Counter((tuple(m.to), m.subject) for m in mail.outbox).most_common(1)[0][1] == 1
    texts = [m for m in sms.outbox if m.body.startswith("The payment for Harbor Dental failed")]
    assert len(texts) == 1
    # The portal link opens the owner's billing: once sent, the outbox does not keep it.
    for link in Message.objects.filter(purpose="billing.portal_link"):
        assert link.body == outbox.REDACTED and "/billing/portal/" not in link.body
    assert "/billing/portal/" in texts[0].body
    # The touchpoints (dunning day 0 and day 3) went too, once each: each sent delivery has its
    # one message, sent, and nothing else of its went out.
    owner_mail = Counter(m.subject for m in mail.outbox if m.to == ["dana@harbor.example"])
    assert owner_mail and max(owner_mail.values()) == 1, owner_mail
    deliveries = Delivery.all_tenants.filter(step__channel__in=["email", "sms"], status="sent")
    assert deliveries.exists()
    for delivery in deliveries:
        [message] = Message.objects.filter(topic=f"delivery:{delivery.id}")
        assert (message.id, message.status, message.provider_id) == (delivery.message_id, "sent", delivery.provider_id)


@pytest.mark.django_db
def test_a_message_the_provider_refuses_for_now_is_retried_and_a_crash_goes_to_review(csm, billing_ops, settings):
    subscription = past_due_subscription(csm)
    locmem = settings.MAILERS
    settings.MAILERS = {"default": {"BACKEND": "tests.backends.RefusingEmailBackend", "OPTIONS": {}}}
    result = subscription_escalate(subscription=subscription, note="", actor=billing_ops, now=NOW)
    assert not result.email_sent and "did not go out" in result.summary
    message = Message.objects.get(purpose="billing.escalation")
    assert message.status == "scheduled" and message.attempts == 1 and message.due_at > NOW  # back-off
    settings.MAILERS = locmem
    Message.objects.update(status="sending", claimed_at=NOW)  # a worker died after claiming
    assert outbox.messages_sweep_stuck(now=NOW + timedelta(minutes=11)) == 1
    assert outbox.messages_dispatch(now=NOW + timedelta(hours=2)).sent == 0  # never resent blindly
    assert Message.objects.get(purpose="billing.escalation").status == "needs_review"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_billing_ops_people_resending_at_the_same_instant_send_one_message(csm, billing_ops):
    subscription = past_due_subscription(csm)
    barrier = threading.Barrier(2)
    outcomes: list = []

    def click() -> None:
        barrier.wait()
        try:
            outcomes.append(
                portal_link_resend(subscription=subscription, email=True, sms=True, actor=billing_ops, now=NOW)
            )
        except ValidationError as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(type(o).__name__ for o in outcomes) == ["ResendResult", "ValidationError"], outcomes
    assert Message.objects.filter(purpose="billing.portal_link").count() == 2  # one email, one text
    assert len([m for m in mail.outbox if m.to == ["dana@harbor.example"]]) == 1
    assert len([m for m in sms.outbox if m.to == "+15555550123"]) == 1


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_moves_alert_notifications_into_the_outbox_with_their_keys(csm):
    """An installation upgraded mid-day: its scheduled notifications are sent by the outbox,
    and the pushes sent before still count against today's budget (same dedupe keys)."""
    from django.db.migrations.executor import MigrationExecutor

    tenant = tenant_at("harbor", signed_up_at=NOW - timedelta(days=90), onboarding=False)
    executor = MigrationExecutor(connection)
    before = [("alerts", "0001_initial"), ("messaging", "0001_initial")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    rule = old.get_model("alerts", "AlertRule")._default_manager.get(slug="no_activity")
    alert = old.get_model("alerts", "Alert")._default_manager.create(
        tenant_id=tenant.id, rule=rule, severity="P2", route="csm", opened_at=NOW, facts={}
    )
    notification = old.get_model("alerts", "AlertNotification")
    common = {"channel": "email", "subject": "[P2] no activity", "body": "…", "created_at": NOW, "due_at": NOW}
    notification._default_manager.create(
        dedupe_key=f"alert:{alert.id}:push:email:{csm.id}",
        kind="push",
        alert_id=alert.id,
        user_id=csm.id,
        recipient=csm.email,
        status="sent",
        sent_at=NOW,
        **common,
    )
    notification._default_manager.create(
        dedupe_key=f"digest:{csm.id}:2026-11-18", kind="digest", user_id=csm.id, recipient=csm.email, **common
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    push, digest = Message.objects.order_by("id")
    assert (push.purpose, push.topic, push.tenant_id, push.status) == (
        "alert.push",
        f"alert:{alert.id}",
        tenant.id,
        "sent",
    )
    assert notify.pushes_today({csm.id}, NOW) == {csm.id: 1}
    assert (digest.purpose, digest.status, digest.dedupe_key) == (
        "alert.digest",
        "scheduled",
        f"digest:{csm.id}:2026-11-18",
    )
    assert outbox.messages_dispatch(now=NOW).sent == 1


@pytest.mark.django_db
def test_an_escalation_whose_email_failed_says_so_on_its_row_and_can_be_escalated_again(
    client, csm, billing_ops, settings
):
    from django.urls import reverse

    subscription = past_due_subscription(csm)
    locmem = settings.MAILERS
    settings.MAILERS = {"default": {"BACKEND": "tests.backends.RejectingEmailBackend", "OPTIONS": {}}}
    first = subscription_escalate(subscription=subscription, note="", actor=billing_ops, now=NOW)
    assert not first.email_sent and "554" in first.summary

    client.force_login(billing_ops)
    row = client.get(reverse("billing-ops:queue")).content.decode().split(f'id="subscription-{subscription.id}"')[1]
    row = row.split("</tr>")[0]
    assert "the email to the CSM did not go out: Mail server refused the message: 554" in row
    assert "Escalate again" in row

    settings.MAILERS = locmem
    again = subscription_escalate(subscription=subscription, note="", actor=billing_ops, now=NOW + timedelta(minutes=5))
    assert again.email_sent and again.summary.endswith("went out")
    third = subscription_escalate(subscription=subscription, note="", actor=billing_ops, now=NOW + timedelta(minutes=9))
    assert third.summary.endswith("(emailed already for this episode)")
    assert Message.objects.filter(purpose="billing.escalation").count() == 2
    assert len([m for m in mail.outbox if m.to == [csm.email]]) == 1
    row = client.get(reverse("billing-ops:queue")).content.decode().split(f'id="subscription-{subscription.id}"')[1]
    assert "did not go out" not in row.split("</tr>")[0] and "Escalate" not in row.split("</tr>")[0]
