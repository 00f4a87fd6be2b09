"""The one email sender: a text + HTML message through Django's default mailer (SMTP, or any
ESP's backend). It answers the Message-ID, or raises RetryableError / PermanentError."""

from __future__ import annotations

import html
import logging
import re
import smtplib
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.message import make_msgid

from .errors import PermanentError, RetryableError

logger = logging.getLogger(__name__)
ADDRESS_UNKNOWN_CODES = {550, 551, 553}
URL_RE = re.compile(r"(https?://[^\s<>\"]+)")


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
        # 550/551/553 at RCPT TO: no such mailbox. The address is suppressed by whoever records
        # the failure (suppressions.suppression_from_provider_error): never written to again.
        unknown = all(code in ADDRESS_UNKNOWN_CODES for code, _ in exc.recipients.values())
        raise PermanentError(f"The mail server refused {to}: {answers}", invalid_address=unknown) from exc
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
