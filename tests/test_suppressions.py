"""Addresses that must not be written to again (issue 14): a mailbox the mail server refuses
for good (550), a number Twilio's receipt says cannot take texts (30003–30006), and a bounce,
complaint or unsubscribe an email provider reports through django-anymail's tracking
webhook — each becomes a suppression, and neither touchpoints nor the outbox write there."""

from __future__ import annotations

import base64
import json
import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from messaging import outbox
from messaging.models import Message, Suppression
from playbooks.models import Delivery

from .test_touchpoint_channels import (
    STATUS_URL,
    quiet_hours_after_signup,
    sent_sms,
    status_params,
    twilio,
    twilio_post,
)
from .touchpoint_helpers import SIGNUP, new_york_tenant, tick_at

pytestmark = pytest.mark.django_db
__all__ = ["quiet_hours_after_signup", "sent_sms", "twilio"]  # fixtures used here, defined there


class NoSuchMailbox(BaseEmailBackend):
    """The mail server answers RCPT TO with 550 5.1.1: there is no such mailbox."""

    def send_messages(self, email_messages):
        to = email_messages[0].to[0]
        raise smtplib.SMTPRecipientsRefused({to: (550, b"5.1.1 <" + to.encode() + b">: no such user")})


def test_a_mailbox_the_server_refuses_for_good_is_never_written_to_again(settings):
    tenant = new_york_tenant(owner_email="gone@harbor.example")
    locmem = settings.MAILERS
    settings.MAILERS = {"default": {"BACKEND": "tests.test_suppressions.NoSuchMailbox", "OPTIONS": {}}}
    tick_at(SIGNUP)
    welcome = Delivery.objects.for_tenant(tenant).get(step__key="welcome-email")
    assert welcome.status == Delivery.Status.FAILED and "550" in welcome.reason
    suppression = Suppression.objects.get(channel="email", address="gone@harbor.example")
    assert suppression.reason == Suppression.Reason.INVALID

    settings.MAILERS = locmem
    moment = SIGNUP
    while moment < SIGNUP + timedelta(days=8):  # Day 3 and Day 7 come due
        moment += timedelta(hours=3)
        tick_at(moment)
    emails = Delivery.objects.for_tenant(tenant).filter(step__channel="email").exclude(step__key="welcome-email")
    assert emails and all(d.status == Delivery.Status.SKIPPED for d in emails if d.status != "scheduled"), [
        (d.step.key, d.status, d.reason) for d in emails
    ]
    assert not [m for m in mail.outbox if m.to == ["gone@harbor.example"]]


@pytest.mark.parametrize(("code", "reason"), [("30006", "invalid"), ("30004", "opted_out")])
def test_a_receipt_saying_the_number_cannot_take_texts_suppresses_it(client, sent_sms, code, reason):
    response = twilio_post(client, STATUS_URL, status_params(sent_sms.provider_id, "undelivered", code))
    assert response.status_code == 204
    suppression = Suppression.objects.get(channel="sms", address=sent_sms.recipient)
    assert (suppression.reason, suppression.detail) == (reason, f"Twilio error {code}")


def test_a_receipt_with_a_passing_error_does_not_suppress(client, sent_sms):
    twilio_post(client, STATUS_URL, status_params(sent_sms.provider_id, "undelivered", "30001"))  # queue overflow
    assert not Suppression.objects.exists()


# --- the email provider's tracking webhook (django-anymail, Postmark's format) ---------------------

TRACKING_URL = "/webhooks/email/postmark/tracking/"
SECRET = "postmark:s3cret-webhook"


def postmark_bounce(email: str, kind: str = "HardBounce") -> str:
    return json.dumps(
        {
            "RecordType": "Bounce",
            "ID": 4323372036854775807,
            "Type": kind,
            "TypeCode": 1,
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            "Email": email,
            "From": "success@cloudgreet.example",
            "BouncedAt": "2026-11-18T16:33:54.9070259Z",
            "Inactive": True,
            "CanActivate": True,
            "Subject": "Welcome",
            "MessageStream": "outbound",
            "Tag": "",
            "Metadata": {},
        }
    )


def post_tracking(client, body: str, auth: str | None = SECRET):
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    return client.post(TRACKING_URL, data=body, content_type="application/json", headers=headers)


def test_a_bounce_the_provider_reports_suppresses_the_address_and_the_outbox_skips_it(client, settings, csm):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    response = post_tracking(client, postmark_bounce("CSM@Example.com"))
    assert response.status_code == 200
    suppression = Suppression.objects.get(channel="email", address="csm@example.com")
    assert suppression.reason == Suppression.Reason.INVALID and suppression.detail.startswith("Postmark: bounced")

    outbox.messages_enqueue(
        [
            Message(
                dedupe_key="test:digest",
                purpose="alert.digest",
                channel="email",
                user=csm,
                recipient="csm@example.com",
                subject="Your day",
                body="…",
                created_at=SIGNUP,
                due_at=SIGNUP,
            )
        ]
    )
    assert outbox.messages_dispatch(now=SIGNUP).skipped == 1
    message = Message.objects.get()
    assert (message.status, message.reason) == (
        "skipped",
        "csm@example.com bounced or was refused: suppressed for email",
    )
    assert mail.outbox == []


def test_a_delivery_the_provider_only_deferred_changes_nothing(client, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    assert post_tracking(client, postmark_bounce("dana@harbor.example", kind="Transient")).status_code == 200
    assert not Suppression.objects.exists()


def test_the_tracking_webhook_is_off_without_a_secret_and_refuses_a_wrong_one(client, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ""}
    response = post_tracking(client, postmark_bounce("dana@harbor.example"))
    assert response.status_code == 404 and b"ANYMAIL_WEBHOOK_SECRET" in response.content
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    assert post_tracking(client, postmark_bounce("dana@harbor.example"), auth="postmark:guess").status_code == 400
    assert post_tracking(client, postmark_bounce("dana@harbor.example"), auth=None).status_code == 400
    assert (
        client.post("/webhooks/email/mailchimp/tracking/", data="{}", content_type="application/json").status_code
        == 404
    )
    assert not Suppression.objects.exists()
