"""The outside channels: email (Django's email backends), SMS (sms.py) and outgoing webhooks.
Each sends one rendered delivery and answers the provider's id, or raises sms.RetryableError /
sms.PermanentError; anything else means "unknown outcome" (see dispatch.py).

Tasks and in-app messages are rows in our own database: dispatch writes them in the same
transaction that marks the delivery sent, so they are exactly-once without a provider.
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import re
import smtplib
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.message import make_msgid
from django.urls import reverse

from .definitions import webhook_hosts
from .models import Delivery
from .sms import PermanentError, RetryableError, SmsMessage, request_never_left, sms_send
from .templating import absolute_url

logger = logging.getLogger(__name__)
UNSUBSCRIBE_SALT = "playbooks.unsubscribe"
URL_RE = re.compile(r"(https?://[^\s<>\"]+)")


def unsubscribe_token(*, email: str, tenant_id: int) -> str:
    return signing.dumps({"email": email.lower(), "tenant": tenant_id}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(*, email: str, tenant_id: int) -> str:
    return absolute_url("unsubscribe", unsubscribe_token(email=email, tenant_id=tenant_id))


def text_to_html(text: str) -> str:
    """Plain text → simple HTML: paragraphs, line breaks, bullet lists and live links."""
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if all(line.lstrip().startswith("- ") for line in lines):
            items = "".join(f"<li>{_inline(line.lstrip()[2:])}</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        else:
            blocks.append("<p>" + "<br>".join(_inline(line) for line in lines) + "</p>")
    return "\n".join(blocks)


def _inline(line: str) -> str:
    escaped = html.escape(line)
    return URL_RE.sub(lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>', escaped)


def send_email(delivery: Delivery) -> str:
    step, tenant = delivery.step, delivery.tenant
    text, headers = delivery.rendered_body, {}
    if not step.transactional:
        link = unsubscribe_url(email=delivery.recipient, tenant_id=tenant.id)
        text += f"\n\n—\nYou get these emails as the owner of {tenant.name}. Unsubscribe: {link}"
        headers["List-Unsubscribe"] = f"<{link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return email_send(to=delivery.recipient, subject=delivery.rendered_subject, text=text, headers=headers)


def email_send(*, to: str, subject: str, text: str, headers: dict[str, str] | None = None) -> str:
    """The one email sender (touchpoints and alert notifications): a text + HTML message through
    the default mailer. Answers the Message-ID, or raises RetryableError / PermanentError."""
    message_id = make_msgid(domain=urlsplit(settings.SITE_URL).hostname or "localhost")
    email = EmailMultiAlternatives(
        subject=subject, body=text, to=[to], headers={**(headers or {}), "Message-ID": message_id}
    )
    email.attach_alternative(text_to_html(text), "text/html")
    if any(c in value for value in (subject, to) for c in "\r\n"):
        # Django refuses a header with a line break before any network: ours, not the server's.
        raise PermanentError("The subject or the address has a line break: the message cannot be built.")
    connection = mailers.default
    try:
        # Opened here so that send_messages() does not close it: an error while closing (a 421
        # answer to QUIT) comes after the server accepted the message and must not look like a
        # failed send, which would be retried — a second email.
        connection.open()
        connection.send_messages([email])
    except smtplib.SMTPRecipientsRefused as exc:
        answers = "; ".join(f"{address}: {code} {_smtp_text(text)}" for address, (code, text) in exc.recipients.items())
        if exc.recipients and all(400 <= code < 500 for code, _ in exc.recipients.values()):
            # 4xx at RCPT TO (greylisting, a full mailbox): nothing was accepted, try later.
            raise RetryableError(f"The mail server deferred {to}: {answers}") from exc
        raise PermanentError(f"The mail server refused {to}: {answers}") from exc
    except (smtplib.SMTPConnectError, ConnectionRefusedError, socket.gaierror) as exc:
        raise RetryableError(f"Could not reach the mail server: {exc}") from exc
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise RetryableError(f"Mail server said try later: {exc.smtp_code} {exc.smtp_error!r}") from exc
        raise PermanentError(f"Mail server refused the message: {exc.smtp_code} {exc.smtp_error!r}") from exc
    finally:
        try:
            connection.close()
        except Exception:  # the message is sent or the error above says why: closing changes neither
            logger.warning("closing the mail connection failed after sending %s", message_id, exc_info=True)
    # One line per message for the operator (and the demo's terminal), never the body.
    logger.info("email to %s: %s", to, subject)
    return message_id


def _smtp_text(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def send_sms(delivery: Delivery) -> str:
    # The delivery id rides in the callback URL (Twilio signs the whole URL): a receipt that
    # arrives before we have recorded Twilio's message id still finds its delivery.
    callback = f"{absolute_url('twilio-status')}?delivery={delivery.id}"
    message = SmsMessage(
        to=delivery.recipient, body=delivery.rendered_body, tenant=delivery.tenant.external_id, delivery_id=delivery.id
    )
    return sms_send(message, status_callback=callback)


# --- webhooks -----------------------------------------------------------------------------------

Resolver = Callable[[str], list[str]]


def resolve_host(host: str) -> list[str]:
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)})
    except socket.gaierror as exc:
        raise RetryableError(f"Could not resolve {host}: {exc}") from exc


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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


def webhook_post(*, url: str, payload: dict[str, Any], session: Any = None, resolver: Resolver = resolve_host) -> str:
    """The one webhook sender (touchpoints and alert notifications): POSTs JSON only to an
    allow-listed host that resolves to public addresses (checked now, not only when the URL was
    saved: DNS can change)."""
    import requests

    host = (urlsplit(url).hostname or "").lower()
    if host not in webhook_hosts():
        raise PermanentError(f"Webhook host {host} is no longer on PLAYBOOK_WEBHOOK_HOSTS.")
    for address in resolver(host):
        if not ipaddress.ip_address(address).is_global:
            raise PermanentError(f"Webhook host {host} resolves to {address}, a private address: not sent.")
    session = session or requests.Session()
    try:
        response = session.post(
            url,
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
            timeout=settings.PLAYBOOK_WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.exceptions.RequestException as exc:
        if request_never_left(exc):
            raise RetryableError(f"Could not connect to {host}: {exc.__class__.__name__}") from exc
        raise  # the request may have reached the receiver (dropped answer, read timeout): unknown
    if response.status_code in (429, 503):
        raise RetryableError(f"{host} answered {response.status_code}: try later")
    if response.status_code >= 300:
        raise PermanentError(f"{host} answered {response.status_code}: {response.text[:200]}")
    return f"HTTP {response.status_code}"
