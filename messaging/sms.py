"""SMS behind a backend, like Django's email: `SMS_BACKEND` is `console`, `locmem`, `file`,
`twilio` or a dotted path to a class with the same `send` method.

A backend answers with the provider's message id, or raises one of ProviderError's kinds:
RetryableError when the provider says nothing was sent and a retry may work,
PermanentError when it refused the message for good. Anything else means "we do not know
whether it went out", and the dispatcher leaves the delivery for a person to review.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from .errors import PermanentError, ProviderError, RetryableError, request_never_left

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    tenant: str  # external id
    delivery_id: int | None  # the touchpoint delivery it sends, if it is one
    message_id: int | None = None  # the outbox row


class BaseSmsBackend(ABC):
    @abstractmethod
    def send(self, message: SmsMessage, *, status_callback: str = "") -> str:
        """Sends one message; returns the provider's message id."""


class ConsoleBackend(BaseSmsBackend):
    """Prints each message: the default, for development."""

    def send(self, message: SmsMessage, *, status_callback: str = "") -> str:
        sys.stdout.write(f"SMS to {message.to} ({message.tenant}): {message.body}\n")
        return f"console-{uuid.uuid4().hex[:12]}"


outbox: list[SmsMessage] = []  # the locmem backend's sent messages, like django.core.mail.outbox
_outbox_lock = threading.Lock()


class LocmemBackend(BaseSmsBackend):
    """Keeps messages in `messaging.sms.outbox`: for tests and benchmarks."""

    def send(self, message: SmsMessage, *, status_callback: str = "") -> str:
        with _outbox_lock:
            outbox.append(message)
            return f"locmem-{len(outbox)}"


class FileBackend(BaseSmsBackend):
    """Appends one JSON object per line to SMS_FILE_PATH: to, body, tenant, delivery_id (the
    touchpoint delivery, or null), message_id (the outbox row)."""

    def send(self, message: SmsMessage, *, status_callback: str = "") -> str:
        path = Path(settings.SMS_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        line = {
            "to": message.to,
            "body": message.body,
            "tenant": message.tenant,
            "delivery_id": message.delivery_id,
            "message_id": message.message_id,
        }
        with _outbox_lock, path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        return f"file-{uuid.uuid4().hex[:12]}"


# Twilio error codes (https://www.twilio.com/docs/api/errors) that say the number itself is
# the problem, that the recipient opted out, or that a retry later may work.
TWILIO_INVALID_NUMBER = {"21211", "21214", "21217", "21401", "21407", "21408", "21612", "21614"}
TWILIO_OPTED_OUT = {"21610"}
TWILIO_RETRYABLE = {"20429", "20503", "30001"}
TWILIO_RETRYABLE_STATUS = {429, 503}


class TwilioBackend(BaseSmsBackend):
    """Sends through Twilio's official SDK and a Messaging Service, with a status callback so
    delivery receipts move the delivery forward. `http_client` is the SDK's own seam (tests
    hand it a fake one; nothing here talks to the network then)."""

    def __init__(self, http_client: Any = None) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_MESSAGING_SERVICE_SID):
            raise PermanentError(
                "Twilio is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_MESSAGING_SERVICE_SID."
            )
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=http_client or TwilioHttpClient(timeout=10),
        )

    def send(self, message: SmsMessage, *, status_callback: str = "") -> str:
        import requests
        from twilio.base.exceptions import TwilioRestException, TwilioServiceException

        try:
            created = self.client.messages.create(
                to=message.to,
                body=message.body,
                messaging_service_sid=settings.TWILIO_MESSAGING_SERVICE_SID,
                **({"status_callback": status_callback} if status_callback else {}),
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            error = twilio_error(exc)
            if error is None:
                raise  # Twilio failed while handling it: it may have queued the message
            raise error from exc
        except requests.exceptions.RequestException as exc:
            if request_never_left(exc):
                raise RetryableError(f"Could not reach Twilio: {exc.__class__.__name__}") from exc
            raise  # the request may have reached Twilio (dropped answer, read timeout): not ours to retry
        return created.sid


def twilio_error(exc: Any) -> ProviderError | None:
    """A Twilio API error (the legacy TwilioRestException or an RFC 9457 TwilioServiceException)
    as one of our kinds; None when the outcome is unknown (a 5xx other than "try later")."""
    code = str(exc.code or "")
    status = int(exc.status or 0)
    detail = getattr(exc, "msg", "") or getattr(exc, "detail", "") or getattr(exc, "title", "")
    text = f"Twilio {code or status}: {detail}"
    if code in TWILIO_INVALID_NUMBER:
        return PermanentError(text, code=code, invalid_address=True)
    if code in TWILIO_OPTED_OUT:
        return PermanentError(text, code=code, opted_out=True)
    if code in TWILIO_RETRYABLE or status in TWILIO_RETRYABLE_STATUS:
        return RetryableError(text, code=code)
    if status >= 500:
        return None
    return PermanentError(text, code=code)


BACKENDS = {
    "console": ConsoleBackend,
    "locmem": LocmemBackend,
    "file": FileBackend,
    "twilio": TwilioBackend,
}


def get_backend() -> BaseSmsBackend:
    name = settings.SMS_BACKEND
    backend_class = BACKENDS.get(name) or import_string(name)
    return backend_class()


def sms_send(message: SmsMessage, *, status_callback: str = "") -> str:
    """Sends one SMS through SMS_BACKEND and logs one line (who, and the start of the text);
    answers the provider's message id. Errors propagate as the backend raised them."""
    provider_id = get_backend().send(message, status_callback=status_callback)
    logger.info("sms to %s: %s", message.to, message.body[:60])
    return provider_id
