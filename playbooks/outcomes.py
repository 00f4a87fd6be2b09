"""A touchpoint delivery follows its outbox message. The outbox (messaging.outbox) sends the
message once and calls these two, registered in PlaybooksConfig.ready:

- `touchpoints_still_due`, its send check: the tenant's send window (and the SMS quiet hours)
  is checked again at the moment the message is claimed. A message that waited — a worker
  stopped between the claim and the send, and the next tick is late — is skipped and its
  delivery goes back to SCHEDULED for the window's next opening, never out at night.
- `deliveries_follow_messages`, its outcome hook, in the same transaction that records the
  message's outcome: SENT / DELIVERED / FAILED / NEEDS_REVIEW / SKIPPED land on the
  delivery, with its timeline entry; a failure a later try may cure puts the delivery back
  to SCHEDULED with a back-off, to be decided again (window, consent, suppressions) and sent
  as a new message. The delivery and its message never disagree.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from core.events import TimelineKind
from messaging.models import Message
from messaging.retry import MAX_ATTEMPTS, retry_at_after
from tenants.models import TimelineEntry
from tenants.services import timeline_entry

from .bulk import deliveries_write
from .models import Delivery
from .scheduling import earliest_send

Status = Delivery.Status
IN_FLIGHT = (Status.SENDING, Status.NEEDS_REVIEW)
INTERRUPTED = "the send was interrupted: it may or may not have gone out — check before resending"


def _deliveries_of(messages: list[Message]) -> QuerySet[Delivery]:
    # Locked: a receipt and the SENT mark (or two receipts) for one delivery apply in turn.
    return (
        Delivery.all_tenants.filter(message_id__in=[m.id for m in messages])
        .select_related("step", "tenant", "run__version", "run__playbook")
        .select_for_update(of=("self",))
    )


def touchpoints_still_due(messages: list[Message], now: datetime) -> dict[int, str]:
    skips: dict[int, str] = {}
    waiting = []
    for d in _deliveries_of(messages).filter(status=Status.SENDING):
        allowed = earliest_send(d.step, now, tz=d.tenant.timezone, window=d.run.version.definition["send_window"])
        if allowed.at > now:
            d.status, d.due_at, d.reason, d.updated_at = Status.SCHEDULED, allowed.at, allowed.why, now
            waiting.append(d)
            skips[d.message_id] = f"not sent: the tenant's send window closed before it went ({allowed.why})"
    deliveries_write(waiting, ["status", "due_at", "reason", "updated_at"])
    return skips


def sent_timeline(deliveries: list[Delivery], now: datetime) -> None:
    TimelineEntry.all_tenants.bulk_create(
        timeline_entry(
            tenant_id=d.tenant_id,
            at=now,
            kind=f"touchpoint.{d.step.channel}",
            summary=f"{d.step.get_channel_display()} sent: {d.rendered_subject or d.rendered_body[:80]}"[:500],
            data={"playbook": d.run.playbook.slug, "step": d.step.key, "delivery": d.id},
        )
        for d in deliveries
    )


def _failed_entry(d: Delivery, now: datetime, message: Message) -> TimelineEntry:
    return timeline_entry(
        tenant_id=d.tenant_id,
        at=now,
        kind=TimelineKind.TOUCHPOINT_FAILED,
        summary=f"{d.step.get_channel_display()} to {d.recipient or 'the tenant'} failed: {message.reason}"[:500],
        data={"delivery": d.id, "code": message.error_code},
    )


def review_entry(d: Delivery, now: datetime) -> TimelineEntry:
    return timeline_entry(
        tenant_id=d.tenant_id,
        at=now,
        kind=TimelineKind.TOUCHPOINT_NEEDS_REVIEW,
        summary=f"{d.step.get_channel_display()} “{d.rendered_subject or d.step.key}” needs review: "
        "the send was interrupted",
        data={"delivery": d.id},
    )


FIELDS = ["status", "sent_at", "delivered_at", "provider_id", "reason", "due_at", "trace", "updated_at"]


def deliveries_follow_messages(messages: list[Message], now: datetime) -> None:
    by_id = {m.id: m for m in messages}
    newly_sent, entries, changed = [], [], []
    for d in _deliveries_of(messages):
        m = by_id[d.message_id]
        was = d.status
        if m.receipts:
            d.trace["receipts"] = m.receipts
        if m.status in (Message.Status.SENT, Message.Status.DELIVERED) and was in (*IN_FLIGHT, Status.SENT):
            d.sent_at, d.provider_id = d.sent_at or m.sent_at, m.provider_id
            d.trace["provider"] = {"id": m.provider_id}
            d.status, d.reason = Status.SENT, m.reason if was == Status.NEEDS_REVIEW else ""
            if m.status == Message.Status.DELIVERED:
                d.status, d.delivered_at = Status.DELIVERED, m.delivered_at
            if was != Status.SENT:
                newly_sent.append(d)
        elif m.status == Message.Status.FAILED and was in (*IN_FLIGHT, Status.SENT):
            d.trace["provider"] = {"error": m.reason, "code": m.error_code}
            if m.retryable and was == Status.SENDING and d.attempts < MAX_ATTEMPTS:
                d.status, d.due_at = Status.SCHEDULED, now + retry_at_after(d.attempts)
                d.reason = f"retrying after: {m.reason}"[:500]
            else:
                d.status, d.reason = Status.FAILED, m.reason
                entries.append(_failed_entry(d, now, m))
        elif m.status == Message.Status.NEEDS_REVIEW and was == Status.SENDING:
            d.status, d.reason = (
                Status.NEEDS_REVIEW,
                ("the send was interrupted: it may or may not have gone out — check before resending"),
            )
            entries.append(review_entry(d, now))
        elif m.status == Message.Status.SKIPPED and was == Status.SENDING:
            d.status, d.reason = Status.SKIPPED, m.reason
        else:
            continue
        d.updated_at = now
        changed.append(d)
    deliveries_write(changed, FIELDS)
    sent_timeline(newly_sent, now)
    TimelineEntry.all_tenants.bulk_create(entries)
