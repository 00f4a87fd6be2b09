"""The one way a message (other than a touchpoint delivery) leaves: enqueue a row, then the
dispatcher sends it once.

- `messages_enqueue` writes rows inside the caller's transaction: the message exists if and
  only if what it reports was recorded. The unique dedupe key makes a second enqueue of the
  same message a no-op.
- `messages_dispatch` (the tick, every minute) claims due rows with SKIP LOCKED, commits them
  `sending`, then calls the provider: a crash after the call leaves `sending`, which the
  sweeper hands to a person (`needs_review`) — never a second message.
- `messages_send_now` sends given rows at once through the same path (billing ops waiting on
  a button); the tick would otherwise take them within the minute.
- Send checks (`register_send_check`) let the app that enqueued a message skip it at send
  time when it is no longer news (a push about an alert resolved since).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from . import email as email_provider
from . import sms as sms_provider
from . import webhook as webhook_provider
from .errors import ProviderError, RetryableError
from .models import Message
from .retry import MAX_ATTEMPTS, SENDING_TIMEOUT, retry_at_after
from .suppressions import suppressed, suppression_from_provider_error

logger = logging.getLogger(__name__)
Status = Message.Status
REDACTED = "(removed once sent: it held a link that works as a key)"

# called as check(messages) -> {message id: why it is skipped}; keyed by purpose prefix ("alert.")
SendCheck = Callable[[list[Message]], dict[int, str]]
_send_checks: dict[str, SendCheck] = {}


def register_send_check(purpose_prefix: str, check: SendCheck) -> None:
    _send_checks[purpose_prefix] = check  # by prefix: a second ready() replaces, never doubles


def messages_enqueue(messages: Iterable[Message]) -> None:
    """Inserts the rows (call inside the transaction of what they report). A row whose
    dedupe key exists already is not made twice."""
    Message.objects.bulk_create(list(messages), ignore_conflicts=True)


@dataclass
class SendResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0

    def summary(self) -> str:
        return (
            f"{self.sent} sent, {self.skipped} skipped, {self.retried} to retry, {self.failed} failed, "
            f"{self.unknown} left for review"
        )


def _send(message: Message, *, session: Any, resolver: webhook_provider.Resolver) -> str:
    if message.channel == Message.Channel.WEBHOOK:
        return webhook_provider.webhook_post(
            url=message.recipient, payload=message.payload, session=session, resolver=resolver
        )
    if message.channel == Message.Channel.SMS:
        tenant = message.tenant.external_id if message.tenant_id else ""
        return sms_provider.sms_send(
            sms_provider.SmsMessage(to=message.recipient, body=message.body, tenant=tenant, delivery_id=None)
        )
    return email_provider.email_send(to=message.recipient, subject=message.subject, text=message.body)


def _record_error(message: Message, exc: ProviderError, now: datetime, result: SendResult) -> None:
    if isinstance(exc, RetryableError) and message.attempts < MAX_ATTEMPTS:
        fields = {
            "status": Status.SCHEDULED,
            "due_at": now + retry_at_after(message.attempts),
            "reason": f"retrying after: {exc}"[:500],
        }
        result.retried += 1
    else:
        fields = {"status": Status.FAILED, "reason": str(exc)[:500]}
        result.failed += 1
    with transaction.atomic():
        Message.objects.filter(id=message.id, status=Status.SENDING).update(**fields)
        if fields["status"] == Status.FAILED:
            suppression_from_provider_error(channel=message.channel, address=message.recipient, exc=exc, now=now)
    message.status, message.reason = fields["status"], fields["reason"]


def _suppressed_recipients(batch: list[Message]) -> dict[int, str]:
    # An address that bounced, complained, unsubscribed or replied STOP since the message was
    # enqueued is not written to.
    skips = {}
    for channel in (Message.Channel.EMAIL, Message.Channel.SMS):
        mine = [m for m in batch if m.channel == channel]
        blocked = suppressed(channel=channel, addresses=[m.recipient for m in mine]) if mine else set()
        skips.update({m.id: f"{m.recipient} is suppressed for {channel}" for m in mine if m.recipient in blocked})
    return skips


def _claim(rows: QuerySet[Message], *, now: datetime, batch_size: int, result: SendResult) -> list[Message]:
    with transaction.atomic():
        # SKIP LOCKED: a second worker (or a send-now) takes other rows, never these.
        batch = list(
            rows.filter(status=Status.SCHEDULED, due_at__lte=now)
            .select_related("tenant")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("due_at", "id")[:batch_size]
        )
        skips = _suppressed_recipients(batch)
        for prefix, check in _send_checks.items():
            skips.update(check([m for m in batch if m.purpose.startswith(prefix)]))
        for m in batch:
            if m.id in skips:
                m.status, m.reason = Status.SKIPPED, skips[m.id][:500]
                result.skipped += 1
            else:
                m.status, m.claimed_at, m.attempts = Status.SENDING, now, m.attempts + 1
        Message.objects.bulk_update(batch, ["status", "claimed_at", "attempts", "reason"])
    # Committed: these rows are SENDING before any provider hears of them.
    return batch


def _send_claimed(
    batch: list[Message], *, now: datetime, session: Any, resolver: webhook_provider.Resolver, result: SendResult
) -> None:
    for m in batch:
        if m.status != Status.SENDING:
            continue
        try:
            provider_id = _send(m, session=session, resolver=resolver)
        except ProviderError as exc:
            _record_error(m, exc, now, result)
            continue
        except Exception:
            # Unknown outcome (a timeout after the request left): it stays SENDING and the
            # sweeper hands it to a person; a resend could write twice.
            logger.exception("message %s (%s): send outcome unknown", m.id, m.purpose)
            result.unknown += 1
            continue
        # NEEDS_REVIEW too: a sweeper that gave up on a slow send is overruled by the answer.
        sent: dict[str, Any] = {"status": Status.SENT, "sent_at": now, "provider_id": provider_id[:200], "reason": ""}
        if m.redact_after_send:
            # A portal or verification link is a key to the owner's account: once it left, the
            # outbox does not keep it. What was sent, to whom and when stays.
            sent["body"], sent["payload"] = REDACTED, {}
        updated = Message.objects.filter(id=m.id, status__in=[Status.SENDING, Status.NEEDS_REVIEW]).update(**sent)
        if updated:
            m.status, m.sent_at, m.provider_id = Status.SENT, now, provider_id[:200]
        result.sent += updated


def messages_dispatch(
    *,
    now: datetime,
    batch_size: int = 100,
    limit: int = 2000,
    session: Any = None,
    resolver: webhook_provider.Resolver = webhook_provider.resolve_host,
) -> SendResult:
    """Sends due messages. `session` / `resolver`: the HTTP session and DNS lookup for
    webhooks (requests and the system resolver unless a test hands in its own)."""
    result, handled = SendResult(), 0
    while handled < limit:
        batch = _claim(Message.objects.all(), now=now, batch_size=batch_size, result=result)
        if not batch:
            break
        handled += len(batch)
        _send_claimed(batch, now=now, session=session, resolver=resolver, result=result)
    return result


def message_send_soon(message: Message, *, now: datetime) -> None:
    """Enqueues one message in the caller's transaction and sends it as soon as that commits
    (at once outside a transaction); a person is waiting for it (a verification link, an
    invitation). If the send does not happen then, the tick sends it."""
    messages_enqueue([message])
    transaction.on_commit(lambda: messages_send_now(dedupe_keys=[message.dedupe_key], now=now))


def messages_send_now(*, dedupe_keys: list[str], now: datetime) -> list[Message]:
    """Sends these messages now, through the same claim as the tick (a row the tick has taken
    already is left to it). Answers the rows as they stand afterwards, in id order."""
    rows = Message.objects.filter(dedupe_key__in=dedupe_keys)
    if dedupe_keys:
        batch = _claim(rows, now=now, batch_size=len(dedupe_keys), result=SendResult())
        _send_claimed(batch, now=now, session=None, resolver=webhook_provider.resolve_host, result=SendResult())
    return list(rows.order_by("id"))


def messages_sweep_stuck(*, now: datetime) -> int:
    """SENDING longer than any provider timeout: interrupted mid-send. Never resent blindly."""
    return Message.objects.filter(status=Status.SENDING, claimed_at__lt=now - SENDING_TIMEOUT).update(
        status=Status.NEEDS_REVIEW,
        reason="the send was interrupted: it may or may not have gone out",
    )
