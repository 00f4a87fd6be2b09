"""The one way a message leaves: enqueue a row, then the dispatcher sends it once.

- `messages_enqueue` writes rows inside the caller's transaction: the message exists if and
  only if what it reports was recorded. The unique dedupe key makes a second enqueue of the
  same message a no-op.
- `messages_dispatch` (the tick, every minute) claims due rows with SKIP LOCKED, commits them
  `sending`, then calls the provider: a crash after the call leaves `sending`, which the
  sweeper hands to a person (`needs_review`) — never a second message.
- `messages_send_now` sends given rows at once through the same claim (a person waiting on a
  button; a touchpoint dispatch right after its claim); the tick would otherwise take them
  within the minute.
- Send checks (`register_send_check`) let the app that enqueued a message skip it at send
  time when it is no longer news (a push about an alert resolved since, a touchpoint whose
  send window has closed).
- Outcome hooks (`register_outcome_hook`) let that app follow what became of its messages —
  sent, delivered, failed, skipped, in review — in the same transaction that records it:
  a touchpoint delivery mirrors its message, so the two never disagree.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.urls import reverse

from core.sql import rows_update

from . import email as email_provider
from . import sms as sms_provider
from . import webhook as webhook_provider
from .errors import ProviderError, RetryableError
from .models import Message, Suppression
from .retry import SENDING_TIMEOUT, retry_at_after
from .suppressions import suppressed, suppression_from_provider_error

logger = logging.getLogger(__name__)
Status = Message.Status
REDACTED = "(removed once sent: it held a link that works as a key)"
Clock = Callable[[], datetime]  # `now` plus the time this dispatch has really taken

# called as check(messages, now) -> {message id: why it is skipped}; keyed by purpose prefix ("alert.")
SendCheck = Callable[[list[Message], datetime], dict[int, str]]
# called as hook(messages, now) inside the transaction that moved their status
OutcomeHook = Callable[[list[Message], datetime], None]
_send_checks: dict[str, SendCheck] = {}
_outcome_hooks: dict[str, OutcomeHook] = {}


def register_send_check(purpose_prefix: str, check: SendCheck) -> None:
    _send_checks[purpose_prefix] = check  # by prefix: a second ready() replaces, never doubles


def register_outcome_hook(purpose_prefix: str, hook: OutcomeHook) -> None:
    _outcome_hooks[purpose_prefix] = hook


def outcomes_report(messages: list[Message], *, now: datetime) -> None:
    """Tells each producer what became of its messages (call inside the recording transaction)."""
    for prefix, hook in _outcome_hooks.items():
        mine = [m for m in messages if m.purpose.startswith(prefix)]
        if mine:
            hook(mine, now)


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


def sms_status_callback(message: Message) -> str:
    # The message id rides in the callback URL (Twilio signs the whole URL): a receipt that
    # arrives before we have recorded Twilio's message id still finds its message.
    return f"{settings.SITE_URL.rstrip('/')}{reverse('twilio-status')}?message={message.id}"


def _send(message: Message, *, session: Any, resolver: webhook_provider.Resolver) -> str:
    if message.channel == Message.Channel.WEBHOOK:
        return webhook_provider.webhook_post(
            url=message.recipient, payload=message.payload, session=session, resolver=resolver
        )
    if message.channel == Message.Channel.SMS:
        tenant = message.tenant.external_id if message.tenant_id else ""
        # A touchpoint's message is about its delivery ("delivery:12"): the file backend's
        # line names it (CONTRACTS.md), beside the outbox row.
        about, _, ident = message.topic.partition(":")
        delivery_id = int(ident) if about == "delivery" and ident.isdigit() else None
        sms = sms_provider.SmsMessage(
            to=message.recipient, body=message.body, tenant=tenant, delivery_id=delivery_id, message_id=message.id
        )
        return sms_provider.sms_send(sms, status_callback=sms_status_callback(message))
    return email_provider.email_send(
        to=message.recipient, subject=message.subject, text=message.body, headers=message.headers
    )


def _record_error(message: Message, exc: ProviderError, now: datetime, result: SendResult) -> None:
    retryable = isinstance(exc, RetryableError)
    fields: dict[str, Any] = {"error_code": exc.code[:20], "retryable": retryable}
    if retryable and message.attempts < message.max_attempts:
        fields.update(status=Status.SCHEDULED, due_at=now + retry_at_after(message.attempts))
        fields["reason"] = f"retrying after: {exc}"[:500]
        result.retried += 1
    else:
        fields.update(status=Status.FAILED, reason=str(exc)[:500])
        result.failed += 1
    with transaction.atomic():
        updated = Message.objects.filter(id=message.id, status=Status.SENDING).update(**fields)
        for name, value in fields.items():
            setattr(message, name, value)
        if updated and message.status == Status.FAILED:
            suppression_from_provider_error(channel=message.channel, address=message.recipient, exc=exc, now=now)
            outcomes_report([message], now=now)


def _suppressed_recipients(batch: list[Message]) -> dict[int, str]:
    # An address that bounced, complained, unsubscribed or replied STOP since the message was
    # enqueued is not written to — but an unsubscribe does not stop a transactional email
    # (a receipt, a password-like message): only a bounce does.
    skips = {}
    for channel in (Message.Channel.EMAIL, Message.Channel.SMS):
        mine = [m for m in batch if m.channel == channel]
        blocked = suppressed(channel=channel, addresses=[m.recipient for m in mine]) if mine else {}
        for m in mine:
            reason = blocked.get(m.recipient)
            if reason is None or (m.transactional and reason == Suppression.Reason.UNSUBSCRIBED):
                continue
            what = {"invalid": "bounced or was refused", "opted_out": "replied STOP"}.get(reason, "unsubscribed")
            skips[m.id] = f"{m.recipient} {what}: suppressed for {channel}"
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
            mine = [m for m in batch if m.purpose.startswith(prefix) and m.id not in skips]
            if mine:
                skips.update(check(mine, now))
        for m in batch:
            if m.id in skips:
                m.status, m.reason = Status.SKIPPED, skips[m.id][:500]
                result.skipped += 1
            else:
                m.status, m.claimed_at, m.attempts = Status.SENDING, now, m.attempts + 1
        rows_update(Message, batch, ["status", "claimed_at", "attempts", "reason"])
        outcomes_report([m for m in batch if m.status == Status.SKIPPED], now=now)
    # Committed: these rows are SENDING before any provider hears of them.
    return [m for m in batch if m.status == Status.SENDING]


def relaxed_commit() -> None:
    # Only for recording what already happened: if PostgreSQL itself crashes within the last
    # moment, a SENT mark may be lost and the row is SENDING again — the sweeper then asks a
    # person: never a second message. The claim that marks rows SENDING before any provider
    # call keeps full synchronous commit.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _renew_claim(group: list[Message], clock: Clock) -> list[Message]:
    """Right before sending a group: its rows are still SENDING (not taken by the sweeper) and
    their claim is renewed, so a slow batch is never mistaken for an interrupted one."""
    at = connection.ops.adapt_datetimefield_value(clock())
    ids = [m.id for m in group]
    markers = ", ".join(["%s"] * len(ids))
    table = Message._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        relaxed_commit()  # a lost renewal only makes the sweeper ask a person: never a resend
        cursor.execute(
            f"UPDATE {table} SET claimed_at = %s WHERE status = %s AND id IN ({markers}) RETURNING id",
            [at, Status.SENDING, *ids],
        )
        renewed = {row[0] for row in cursor.fetchall()}
    return [m for m in group if m.id in renewed]


def _apply_receipts(m: Message, now: datetime) -> None:
    # A receipt can beat our SENT mark (Twilio answers fast): it waited in the row.
    if any(r["status"] == "delivered" for r in m.receipts):
        m.status, m.delivered_at = Status.DELIVERED, now
    elif failed := next((r for r in m.receipts if r["status"] in {"undelivered", "failed"}), None):
        code = f" (error {failed['error_code']})" if failed.get("error_code") else ""
        m.status, m.reason = Status.FAILED, f"Twilio reported {failed['status']}{code}"
        m.error_code = failed["error_code"]


SENT_FIELDS = ["status", "sent_at", "delivered_at", "provider_id", "reason", "error_code", "receipts"]
SENT_FIELDS += ["body", "payload"]


def _mark_sent(sent: list[Message], now: datetime) -> int:
    """SENT with the provider's ids, in one transaction, with the producers' outcome hooks."""
    if not sent:
        return 0
    with transaction.atomic():
        relaxed_commit()
        # NEEDS_REVIEW too: a sweeper that gave up on a slow send is overruled by the answer.
        # Locked, and the receipts read under the lock, so writing ours does not lose one.
        stored = dict(
            Message.objects.select_for_update()
            .filter(id__in=[m.id for m in sent], status__in=[Status.SENDING, Status.NEEDS_REVIEW])
            .values_list("id", "receipts")
        )
        mine = [m for m in sent if m.id in stored]
        for m in mine:
            m.status, m.sent_at, m.reason, m.receipts = Status.SENT, now, "", stored[m.id]
            _apply_receipts(m, now)
            if m.redact_after_send:
                # A portal or verification link is a key to the owner's account: once it left,
                # the outbox does not keep it. What was sent, to whom and when stays.
                m.body, m.payload = REDACTED, {}
        rows_update(Message, mine, SENT_FIELDS)
        outcomes_report(mine, now=now)
    return len(mine)


# Sends are recorded in groups, one transaction each: a crash leaves at most this many
# already-sent rows in SENDING — for review, never resent.
RECORD_EVERY = 20


def _send_claimed(
    batch: list[Message], *, now: datetime, clock: Clock, session: Any, resolver: webhook_provider.Resolver
) -> SendResult:
    result = SendResult()
    for start in range(0, len(batch), RECORD_EVERY):
        sent = []
        for m in _renew_claim(batch[start : start + RECORD_EVERY], clock):
            try:
                m.provider_id = _send(m, session=session, resolver=resolver)[:200]
            except ProviderError as exc:
                _record_error(m, exc, now, result)
                continue
            except Exception:
                # Unknown outcome (a timeout after the request left): it stays SENDING and the
                # sweeper hands it to a person; a resend could write twice.
                logger.exception("message %s (%s): send outcome unknown", m.id, m.purpose)
                result.unknown += 1
                continue
            sent.append(m)
        result.sent += _mark_sent(sent, now)
    return result


def _clock_from(now: datetime) -> Clock:
    started = time.monotonic()

    def clock() -> datetime:
        # `now` moved on by the time this dispatch has really taken: claims carry it, so the
        # sweeper (comparing with its own `now`) sees how long a row has truly been in flight.
        return now + timedelta(seconds=time.monotonic() - started)

    return clock


def _dispatch(
    rows: QuerySet[Message], *, now: datetime, clock: Clock, batch_size: int, limit: int, session: Any, resolver: Any
) -> SendResult:
    total, handled = SendResult(), 0
    while handled < limit:
        claimed = SendResult()
        batch = _claim(rows, now=now, batch_size=batch_size, result=claimed)
        if not batch and not claimed.skipped:
            break
        handled += len(batch) + claimed.skipped
        sent = _send_claimed(batch, now=now, clock=clock, session=session, resolver=resolver)
        for name in ("sent", "retried", "failed", "unknown", "skipped"):
            setattr(total, name, getattr(total, name) + getattr(sent, name) + getattr(claimed, name))
    return total


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
    return _dispatch(
        Message.objects.all(),
        now=now,
        clock=_clock_from(now),
        batch_size=batch_size,
        limit=limit,
        session=session,
        resolver=resolver,
    )


def message_send_soon(message: Message, *, now: datetime) -> None:
    """Enqueues one message in the caller's transaction and sends it as soon as that commits
    (at once outside a transaction); a person is waiting for it (a verification link, an
    invitation). If the send does not happen then, the tick sends it."""
    messages_enqueue([message])
    transaction.on_commit(lambda: messages_send_now(dedupe_keys=[message.dedupe_key], now=now))


def messages_send_now(*, dedupe_keys: list[str], now: datetime, clock: Clock | None = None) -> list[Message]:
    """Sends these messages now, through the same claim as the tick (a row the tick has taken
    already is left to it). Answers the rows as they stand afterwards, in id order."""
    rows = Message.objects.filter(dedupe_key__in=dedupe_keys)
    if dedupe_keys:
        _dispatch(
            rows,
            now=now,
            clock=clock or _clock_from(now),
            batch_size=len(dedupe_keys),
            limit=len(dedupe_keys),
            session=None,
            resolver=webhook_provider.resolve_host,
        )
    return list(rows.order_by("id"))


def messages_sweep_stuck(*, now: datetime) -> int:
    """SENDING longer than any provider timeout: interrupted mid-send. Never resent blindly —
    a person decides (`needs_review`), and the producer hears of it."""
    with transaction.atomic():
        stuck = list(
            Message.objects.filter(status=Status.SENDING, claimed_at__lt=now - SENDING_TIMEOUT).select_for_update(
                skip_locked=True
            )
        )
        for m in stuck:
            m.status, m.reason = Status.NEEDS_REVIEW, "the send was interrupted: it may or may not have gone out"
        rows_update(Message, stuck, ["status", "reason"])
        outcomes_report(stuck, now=now)
    return len(stuck)


def message_lock(*, message_id: int | None) -> None:
    """Lock an outbox message inside the caller's transaction. Producers that settle a message
    and their own row take the message first, as the send path does (`_mark_sent` locks
    messages, then the outcome hook locks deliveries): one order everywhere, no deadlock."""
    if message_id is not None:
        list(Message.objects.select_for_update().filter(id=message_id).values_list("id", flat=True))


def message_review_settle(*, message_id: int | None, went_out: bool, reason: str, now: datetime) -> None:
    """A person decided what became of an interrupted send (the producer's review page): the
    message leaves NEEDS_REVIEW as SENT or FAILED, so the outbox agrees with them."""
    if message_id is None:
        return
    fields: dict[str, Any] = {"status": Status.SENT if went_out else Status.FAILED, "reason": reason[:500]}
    if went_out:
        fields["sent_at"] = now
    Message.objects.filter(id=message_id, status=Status.NEEDS_REVIEW).update(**fields)
