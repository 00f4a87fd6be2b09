"""A touchpoint delivery, handed to its provider in messaging: the email gets its unsubscribe
footer and headers, the text its status callback, the webhook its Slack-shaped payload. Each
answers the provider's id, or raises messaging.errors.RetryableError / PermanentError;
anything else means "unknown outcome" (see dispatch.py).

Tasks and in-app messages are rows in our own database: dispatch writes them in the same
transaction that marks the delivery sent, so they are exactly-once without a provider.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

from messaging.email import email_send
from messaging.sms import SmsMessage, sms_send
from messaging.webhook import Resolver, resolve_host, slack_escape, webhook_post

from .models import Delivery
from .templating import absolute_url

logger = logging.getLogger(__name__)
UNSUBSCRIBE_SALT = "playbooks.unsubscribe"


def unsubscribe_token(*, email: str, tenant_id: int) -> str:
    return signing.dumps({"email": email.lower(), "tenant": tenant_id}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(*, email: str, tenant_id: int) -> str:
    return absolute_url("unsubscribe", unsubscribe_token(email=email, tenant_id=tenant_id))


def send_email(delivery: Delivery) -> str:
    step, tenant = delivery.step, delivery.tenant
    text, headers = delivery.rendered_body, {}
    if not step.transactional:
        link = unsubscribe_url(email=delivery.recipient, tenant_id=tenant.id)
        text += f"\n\n—\nYou get these emails as the owner of {tenant.name}. Unsubscribe: {link}"
        headers["List-Unsubscribe"] = f"<{link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return email_send(to=delivery.recipient, subject=delivery.rendered_subject, text=text, headers=headers)


def send_sms(delivery: Delivery) -> str:
    # The delivery id rides in the callback URL (Twilio signs the whole URL): a receipt that
    # arrives before we have recorded Twilio's message id still finds its delivery.
    callback = f"{absolute_url('twilio-status')}?delivery={delivery.id}"
    message = SmsMessage(
        to=delivery.recipient, body=delivery.rendered_body, tenant=delivery.tenant.external_id, delivery_id=delivery.id
    )
    return sms_send(message, status_callback=callback)


# --- webhooks -----------------------------------------------------------------------------------


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


def send_webhook(delivery: Delivery, *, session: Any = None, resolver: Resolver = resolve_host) -> str:
    return webhook_post(
        url=delivery.step.webhook_url, payload=webhook_payload(delivery), session=session, resolver=resolver
    )
