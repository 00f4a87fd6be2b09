"""A touchpoint delivery as the outbox message that sends it: the email gets its unsubscribe
footer and headers, the text its body, the webhook its Slack-shaped payload. One message per
attempt (`touchpoint:<delivery>:<attempt>`): the delivery decides when and whether to try
again, the message is the send itself (messaging.outbox).

Tasks and in-app messages are rows in our own database: dispatch writes them in the same
transaction that marks the delivery sent, so they are exactly-once without a provider.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from messaging.models import Message
from messaging.receipts import unsubscribe_url
from messaging.webhook import slack_escape

from .models import Channel, Delivery

PURPOSE_PREFIX = "touchpoint."


def touchpoint_key(delivery: Delivery) -> str:
    return f"touchpoint:{delivery.id}:{delivery.attempts}"


def touchpoint_message(delivery: Delivery, *, now: datetime) -> Message:
    """The message of this attempt (call with the delivery claimed: its `attempts` counted)."""
    step, tenant = delivery.step, delivery.tenant
    message = Message(
        dedupe_key=touchpoint_key(delivery),
        purpose=f"{PURPOSE_PREFIX}{step.channel}",
        topic=f"delivery:{delivery.id}",
        channel=step.channel,
        tenant=tenant,
        recipient=delivery.recipient,
        subject=delivery.rendered_subject,
        body=delivery.rendered_body,
        transactional=step.transactional,
        max_attempts=1,  # a retry is the delivery's call: it waits for the send window
        created_at=now,
        due_at=now,
    )
    if step.channel == Channel.EMAIL and not step.transactional:
        link = unsubscribe_url(email=delivery.recipient, tenant_id=tenant.id)
        message.body += f"\n\n—\nYou get these emails as the owner of {tenant.name}. Unsubscribe: {link}"
        message.headers = {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    elif step.channel == Channel.WEBHOOK:
        message.recipient, message.payload = step.webhook_url, webhook_payload(delivery)
    return message


def webhook_payload(delivery: Delivery) -> dict[str, Any]:
    """Slack-compatible: `text` is what Slack shows; the rest is for other receivers."""
    step, tenant = delivery.step, delivery.tenant
    link = settings.SITE_URL + reverse("cockpit:tenant-detail", args=[tenant.external_id])
    return {
        # Slack reads <…> as links and mentions (<!channel>): text a tenant controls is escaped.
        "text": f"{slack_escape(delivery.rendered_body)}\n<{link}|{slack_escape(tenant.name)} in the cockpit>",
        "tenant": {"external_id": tenant.external_id, "name": tenant.name, "plan": tenant.plan},
        "playbook": delivery.run.version.playbook.slug,
        "step": step.key,
        "delivery_id": delivery.id,
    }
