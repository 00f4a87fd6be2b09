"""Dispatch: claim due deliveries, decide (skip, defer or send), send, record. Never twice.

1. Claim. In one short transaction, due SCHEDULED rows are locked with SKIP LOCKED (a second
   tick or worker takes other rows, never the same), decided and, when they are to go,
   rendered and marked SENDING. That transaction commits before any provider is called.
2. Send. The provider is called outside any transaction.
3. Record. SENT with the provider's id; a retryable error puts the row back to SCHEDULED with
   a backoff; a permanent one makes it FAILED with the reason. Any other exception means we
   cannot know whether the message went out: the row stays SENDING and the sweeper turns it
   into NEEDS_REVIEW for a person — it is never resent blindly. A process killed mid-send
   leaves the same SENDING row behind, with the same outcome.

Tasks and in-app messages need no provider: the row they create and the SENT mark are one
transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q

from core.events import TimelineKind
from core.roles import ALL_STAFF_ROLES
from messaging.errors import ProviderError, RetryableError
from messaging.models import Suppression
from messaging.retry import MAX_ATTEMPTS, SENDING_TIMEOUT, advisory_locks, retry_at_after
from messaging.suppressions import suppression_from_provider_error
from tenants.models import Tenant, TimelineEntry
from tenants.services import timeline_entry, timeline_record

from . import channels
from .bulk import deliveries_write
from .conditions import evaluate, windows_of
from .facts import EventWindow, TenantFacts, facts_for_tenants
from .models import CUSTOMER_CHANNELS, MESSAGE_CHANNELS, Channel, Delivery, InAppMessage, Task, TouchpointPause
from .scheduling import STALE_AFTER, earliest_send, next_window_opening
from .templating import TemplateError, check, render
from .variants import VariantGroups

logger = logging.getLogger(__name__)

LOCAL_CHANNELS = (Channel.TASK, Channel.IN_APP)
Clock = Callable[[], datetime]  # `now` plus the time this dispatch has really taken
ADVISORY_NAMESPACE = 7_305  # pg_advisory_xact_lock(namespace, tenant id): the throttle's lock


@dataclass
class DispatchResult:
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.sent} sent, {self.skipped} skipped, {self.deferred} deferred, {self.retried} to retry, "
            f"{self.failed} failed, {self.unknown} left for review"
        )


def _lock_tenants_for_throttle(tenant_ids: list[int]) -> None:
    # Two workers deciding the throttle for one tenant at once could both see "1 sent today"
    # and both send: a lock per tenant makes the second wait.
    advisory_locks(ADVISORY_NAMESPACE, tenant_ids)


def _local_day_start(now: datetime, tz: str) -> datetime:
    local = now.astimezone(ZoneInfo(tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _messages_today(tenants: dict[int, Tenant], now: datetime) -> dict[int, int]:
    """Non-transactional email/SMS per tenant since the tenant's local midnight."""
    earliest = min(_local_day_start(now, t.timezone) for t in tenants.values())
    rows = (
        Delivery.all_tenants.filter(
            tenant_id__in=list(tenants),
            status__in=[Delivery.Status.SENDING, Delivery.Status.SENT, Delivery.Status.DELIVERED],
            step__channel__in=list(MESSAGE_CHANNELS),
            step__transactional=False,
            claimed_at__gte=earliest,
        )
        .values_list("tenant_id", "claimed_at")
        .order_by()
    )
    counts: dict[int, int] = {}
    for tenant_id, claimed_at in rows:
        if claimed_at >= _local_day_start(now, tenants[tenant_id].timezone):
            counts[tenant_id] = counts.get(tenant_id, 0) + 1
    return counts


def _recipient(delivery: Delivery) -> str:
    tenant = delivery.tenant
    if delivery.step.channel == Channel.EMAIL:
        return tenant.owner_email.lower()
    if delivery.step.channel == Channel.SMS:
        return tenant.owner_phone
    return ""


def skip_reason(delivery: Delivery, facts: TenantFacts, now: datetime, context: dict[str, Any]) -> str:
    step, tenant = delivery.step, delivery.tenant
    if now > delivery.due_at + STALE_AFTER:
        return "stale: found more than 24 h past due"
    if tenant.lifecycle_stage == Tenant.LifecycleStage.CHURNED:
        return "the tenant churned"
    if not delivery.run.playbook.enabled:
        return "the playbook is disabled"
    if tenant.id in context["paused"]:
        return "touchpoints are paused for this tenant"
    if step.variant:
        # One of several alternatives: the group was (or is now) decided once, for all of its
        # members, from one reading of the facts — never member by member at different times.
        reason = context["variants"].reason_for(delivery, facts, now)
        if reason:
            return reason
    else:
        outcome = evaluate(step.conditions, facts)
        delivery.trace["conditions"] = outcome.checks
        if outcome.holds is not True:
            return outcome.explanation
    if step.channel == Channel.SMS:
        if not tenant.owner_phone:
            return "no phone: the owner gave no phone number"
        if not tenant.sms_consent_at:
            return "no SMS consent: the owner has not agreed to texts"
        if tenant.owner_phone in context["sms_suppressed"]:
            return f"opted out: {tenant.owner_phone} replied STOP or was rejected as invalid"
    if step.channel == Channel.EMAIL and not step.transactional and delivery.recipient in context["unsubscribed"]:
        return f"unsubscribed: {delivery.recipient} unsubscribed from these emails"
    return ""


def batch_context(batch: list[Delivery], *, persist: bool = True) -> dict[str, Any]:
    tenant_ids = {d.tenant_id for d in batch}
    phones = [d.tenant.owner_phone for d in batch if d.tenant.owner_phone]
    emails = [d.tenant.owner_email.lower() for d in batch]
    suppressions = Suppression.objects.filter(
        Q(channel=Channel.SMS, address__in=phones) | Q(channel=Channel.EMAIL, address__in=emails)
    ).values_list("channel", "address")
    return {
        "variants": VariantGroups(batch, persist=persist),
        "paused": set(TouchpointPause.all_tenants.filter(tenant_id__in=tenant_ids).values_list("tenant_id", flat=True)),
        "sms_suppressed": {a for c, a in suppressions if c == Channel.SMS},
        "unsubscribed": {a for c, a in suppressions if c == Channel.EMAIL},
    }


def _decide(batch: list[Delivery], now: datetime, claimed_at: datetime, result: DispatchResult) -> list[Delivery]:
    """Runs inside the claim transaction: marks each row SKIPPED, deferred (SCHEDULED later),
    FAILED (unrenderable) or SENDING. Returns the rows to send."""
    tenants = {d.tenant_id: d.tenant for d in batch}
    windows = set().union(*(windows_of(d.step.conditions) for d in batch))
    facts = facts_for_tenants(list(tenants.values()), now=now, windows=_template_windows(batch) | windows)
    context = batch_context(batch)
    limited = [d.tenant_id for d in batch if d.step.channel in MESSAGE_CHANNELS and not d.step.transactional]
    _lock_tenants_for_throttle(list(set(limited)))
    sent_today = _messages_today({i: tenants[i] for i in set(limited)}, now) if limited else {}
    to_send = []
    for d in batch:
        d.recipient = _recipient(d)
        d.trace = {
            **d.trace,
            "decided_at": now.isoformat(),
            "trigger": f"{d.run.get_trigger_display()} ({d.run.enrolment_key})",
            "template_version": f"{d.run.playbook.slug} v{d.run.version.number}",
        }
        reason = skip_reason(d, facts[d.tenant_id], now, context)
        if reason:
            d.status, d.reason = Delivery.Status.SKIPPED, reason[:500]
            result.skipped += 1
            continue
        window = d.run.version.definition["send_window"]
        allowed = earliest_send(d.step, now, tz=d.tenant.timezone, window=window)
        if allowed.at > now:
            # Due while the window was closed or in the SMS quiet hours (a late tick, a retry,
            # a resend, a new time zone): it waits instead of going out at night.
            d.due_at, d.reason = allowed.at, allowed.why
            result.deferred += 1
            continue
        try:
            strict = d.step.channel in CUSTOMER_CHANNELS
            # One line: a tenant name with a line break must not break the email's headers.
            d.rendered_subject = " ".join(render(d.step.subject, facts[d.tenant_id], strict=strict).split())[:300]
            d.rendered_body = render(d.step.body, facts[d.tenant_id], strict=strict)
        except TemplateError as exc:
            d.status, d.reason = Delivery.Status.FAILED, f"could not render: {exc}"[:500]
            result.failed += 1
            continue
        if d.step.channel in MESSAGE_CHANNELS and not d.step.transactional:
            if sent_today.get(d.tenant_id, 0) >= settings.TOUCHPOINT_DAILY_LIMIT:
                # Throttled: the next day's window opening, in the tenant's time zone.
                tomorrow = _local_day_start(now, d.tenant.timezone) + timedelta(days=1)
                d.due_at = next_window_opening(tomorrow, tz=d.tenant.timezone, window=window)
                d.reason = f"deferred: {settings.TOUCHPOINT_DAILY_LIMIT} messages already sent today"
                result.deferred += 1
                continue
            sent_today[d.tenant_id] = sent_today.get(d.tenant_id, 0) + 1
        d.status, d.claimed_at, d.attempts = Delivery.Status.SENDING, claimed_at, d.attempts + 1
        to_send.append(d)
    return to_send


def _template_windows(batch: list[Delivery]) -> set[EventWindow]:
    windows: set[EventWindow] = set()
    for step in {d.step_id: d.step for d in batch}.values():  # once per step, not per row
        windows |= check(step.subject, field="subject") | check(step.body, field="body")
    return windows


CLAIM_FIELDS = [
    "status",
    "reason",
    "due_at",
    "claimed_at",
    "attempts",
    "recipient",
    "rendered_subject",
    "rendered_body",
    "trace",
    "updated_at",
]


def _claim(
    *, now: datetime, clock: Callable[[], datetime], batch_size: int, result: DispatchResult
) -> tuple[int, list[Delivery]]:
    with transaction.atomic():
        # SKIP LOCKED: a second tick or worker takes other rows instead of waiting for these or
        # taking them too. `of=("self",)` locks only the delivery rows, not the joined ones.
        batch = list(
            Delivery.all_tenants.filter(status=Delivery.Status.SCHEDULED, due_at__lte=now)
            .select_related("step", "run__version", "run__playbook", "tenant__csm_owner")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("due_at", "id")[:batch_size]
        )
        if not batch:
            return 0, []
        to_send = _decide(batch, now, clock(), result)
        for d in batch:
            d.updated_at = now
        deliveries_write(batch, CLAIM_FIELDS)
    # Committed: the rows in `to_send` are SENDING before any provider hears of them.
    return len(batch), to_send


class _Assignees:
    """Who a task goes to: the staff member the playbook names, else the tenant's CSM (for
    CSM tasks), else the role's queue. Named people are looked up once per batch."""

    def __init__(self) -> None:
        self.named: dict[str, Any] = {}

    def __call__(self, delivery: Delivery) -> tuple[Any, str]:
        step, tenant = delivery.step, delivery.tenant
        if step.owner_name:
            if step.owner_name not in self.named:
                first, _, last = step.owner_name.partition(" ")
                # Staff only: a tenant user who happens to share the name is never assigned work.
                users = get_user_model().objects.filter(is_active=True, groups__name__in=list(ALL_STAFF_ROLES))
                self.named[step.owner_name] = users.filter(first_name__iexact=first, last_name__iexact=last).first()
            if self.named[step.owner_name] is not None:
                return self.named[step.owner_name], step.owner_role
        if step.owner_role == "csm" and tenant.csm_owner_id:
            return tenant.csm_owner, step.owner_role
        return None, step.owner_role


SENT_FIELDS = ["status", "sent_at", "delivered_at", "provider_id", "reason", "trace", "updated_at"]


def _still_ours(deliveries: list[Delivery], *, sent: bool) -> list[Delivery]:
    # Still ours? A sweeper may have given up on a row this worker took too long over. A local
    # one went back to SCHEDULED: another worker's now. One we did send and the sweeper put in
    # review (`sent`): we know it went, so recording it beats asking a person to guess.
    statuses = [Delivery.Status.SENDING, Delivery.Status.NEEDS_REVIEW] if sent else [Delivery.Status.SENDING]
    stored = dict(
        Delivery.all_tenants.select_for_update()
        .filter(id__in=[d.id for d in deliveries], status__in=statuses)
        .values_list("id", "trace")
    )
    for d in deliveries:
        # A delivery receipt can beat the SENT mark (Twilio answers fast): it waits in the
        # stored trace, read here under the row lock, so writing our trace does not lose it.
        receipts = (stored.get(d.id) or {}).get("receipts")
        if receipts:
            d.trace["receipts"] = receipts
    return [d for d in deliveries if d.id in stored]


def _apply_receipts(d: Delivery, now: datetime) -> None:
    statuses = [r["status"] for r in d.trace.get("receipts", [])]
    if "delivered" in statuses:
        d.status, d.delivered_at = Delivery.Status.DELIVERED, now
    elif failed := next((r for r in d.trace.get("receipts", []) if r["status"] in {"undelivered", "failed"}), None):
        code = f" (error {failed['error_code']})" if failed.get("error_code") else ""
        d.status, d.reason = Delivery.Status.FAILED, f"Twilio reported {failed['status']}{code}"


def _relaxed_commit() -> None:
    # Only for recording what already happened: if PostgreSQL itself crashes within the last
    # moment, a SENT mark (or a task with its mark) may be lost and the row is SENDING again —
    # the sweeper then asks a person (or recreates the task): never a second message. The
    # claim that marks rows SENDING before any provider call keeps full synchronous commit.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _mark_sent(deliveries: list[Delivery], now: datetime) -> int:
    """SENT with the provider's id, and the timeline entries, in one transaction."""
    if not deliveries:
        return 0
    with transaction.atomic():
        _relaxed_commit()
        mine = _still_ours(deliveries, sent=True)
        for d in mine:
            d.status, d.sent_at, d.reason, d.updated_at = Delivery.Status.SENT, now, "", now
            d.trace["provider"] = {"id": d.provider_id}
            _apply_receipts(d, now)
        deliveries_write(mine, SENT_FIELDS)
        TimelineEntry.all_tenants.bulk_create(
            timeline_entry(
                tenant_id=d.tenant_id,
                at=now,
                kind=f"touchpoint.{d.step.channel}",
                summary=f"{d.step.get_channel_display()} sent: {d.rendered_subject or d.rendered_body[:80]}"[:500],
                data={"playbook": d.run.playbook.slug, "step": d.step.key, "delivery": d.id},
            )
            for d in mine
        )
    return len(mine)


def _create_local(deliveries: list[Delivery], now: datetime) -> int:
    """Tasks and in-app messages: the rows and the SENT marks commit together — exactly once
    (and Task.delivery / InAppMessage.delivery are one-to-one: a double insert fails)."""
    if not deliveries:
        return 0
    assignee_of = _Assignees()
    with transaction.atomic():
        _relaxed_commit()
        mine = _still_ours(deliveries, sent=False)
        tasks, messages = [], []
        for d in mine:
            if d.step.channel == Channel.TASK:
                assignee, role = assignee_of(d)
                who = assignee.get_username() if assignee else f"the {role} queue"
                d.provider_id, d.trace["assigned_to"] = f"task for {who}", who
                tasks.append(
                    Task(
                        tenant_id=d.tenant_id,
                        delivery=d,
                        title=d.rendered_subject,
                        body=d.rendered_body,
                        assignee=assignee,
                        role=role,
                        due_at=now + timedelta(hours=d.step.due_in_hours),
                        created_at=now,
                    )
                )
            else:
                d.provider_id = "in-app message"
                messages.append(
                    InAppMessage(
                        tenant_id=d.tenant_id,
                        delivery=d,
                        title=d.rendered_subject,
                        body=d.rendered_body,
                        created_at=now,
                    )
                )
        Task.all_tenants.bulk_create(tasks)
        InAppMessage.all_tenants.bulk_create(messages)
        for message in messages:
            message.delivery.provider_id = f"in-app message {message.id}"
        return _mark_sent(mine, now)


def _record_error(delivery: Delivery, exc: ProviderError, now: datetime, result: DispatchResult) -> None:
    delivery.trace["provider"] = {"error": str(exc), "code": exc.code}
    fields: dict[str, Any] = {"trace": delivery.trace, "updated_at": now}
    if isinstance(exc, RetryableError) and delivery.attempts < MAX_ATTEMPTS:
        fields.update(
            status=Delivery.Status.SCHEDULED,
            due_at=now + retry_at_after(delivery.attempts),
            reason=f"retrying after: {exc}"[:500],
        )
        result.retried += 1
    else:
        fields.update(status=Delivery.Status.FAILED, reason=str(exc)[:500])
        result.failed += 1
    with transaction.atomic():
        Delivery.all_tenants.filter(id=delivery.id, status=Delivery.Status.SENDING).update(**fields)
        if fields["status"] == Delivery.Status.FAILED:
            _flag_address(delivery, exc, now)
            timeline_record(
                tenant=delivery.tenant,
                at=now,
                kind=TimelineKind.TOUCHPOINT_FAILED,
                summary=f"{delivery.step.get_channel_display()} to {delivery.recipient or 'the tenant'} failed: {exc}",
                data={"delivery": delivery.id, "code": exc.code},
            )


def _flag_address(delivery: Delivery, exc: ProviderError, now: datetime) -> None:
    """An invalid number or an opt-out the provider reports: never message it again."""
    suppression_from_provider_error(channel=delivery.step.channel, address=delivery.recipient, exc=exc, now=now)


SENDERS = {Channel.EMAIL: channels.send_email, Channel.SMS: channels.send_sms, Channel.WEBHOOK: channels.send_webhook}
# Sends are recorded SENT in groups, one transaction each: a crash leaves at most this many
# already-sent rows in SENDING — for review, never resent. (An SMS receipt that arrives first
# finds its row by the delivery id in the callback URL and waits in its trace.)
RECORD_EVERY = 20


def _renew_claim(deliveries: list[Delivery], clock: Clock) -> list[Delivery]:
    """Right before sending a group: its rows are still SENDING (not taken by the sweeper) and
    their claim is renewed, so a slow batch is never mistaken for an interrupted one."""
    if not deliveries:
        return []
    at = connection.ops.adapt_datetimefield_value(clock())
    ids = [d.id for d in deliveries]
    markers = ", ".join(["%s"] * len(ids))
    with transaction.atomic(), connection.cursor() as cursor:
        _relaxed_commit()  # a lost renewal only makes the sweeper ask a person: never a resend
        cursor.execute(
            f"UPDATE playbooks_delivery SET claimed_at = %s WHERE status = %s AND id IN ({markers}) RETURNING id",
            [at, Delivery.Status.SENDING, *ids],
        )
        renewed = {row[0] for row in cursor.fetchall()}
    return [d for d in deliveries if d.id in renewed]


def _send_external(deliveries: list[Delivery], now: datetime, clock: Clock, result: DispatchResult) -> None:
    for start in range(0, len(deliveries), RECORD_EVERY):
        sent: list[Delivery] = []
        for delivery in _renew_claim(deliveries[start : start + RECORD_EVERY], clock):
            try:
                delivery.provider_id = SENDERS[delivery.step.channel](delivery)
            except ProviderError as exc:
                _record_error(delivery, exc, now, result)
                continue
            except Exception:
                # Unknown outcome (a timeout after the request left, a dropped connection): the
                # row stays SENDING; the sweeper hands it to a person. A resend could message twice.
                logger.exception("delivery %s (tenant %s): send outcome unknown", delivery.id, delivery.tenant_id)
                result.unknown += 1
                continue
            sent.append(delivery)
        result.sent += _mark_sent(sent, now)


def deliveries_dispatch_due(*, now: datetime, limit: int = 5000, batch_size: int = 200) -> DispatchResult:
    result = DispatchResult()
    started = time.monotonic()

    def clock() -> datetime:
        # `now` moved on by the time this dispatch has really taken: claims carry it, so the
        # sweeper (comparing with its own `now`) sees how long a row has truly been in flight.
        return now + timedelta(seconds=time.monotonic() - started)

    handled = 0
    while handled < limit:
        claimed, to_send = _claim(now=now, clock=clock, batch_size=batch_size, result=result)
        if not claimed:
            break
        result.sent += _create_local([d for d in to_send if d.step.channel in LOCAL_CHANNELS], now)
        _send_external([d for d in to_send if d.step.channel not in LOCAL_CHANNELS], now, clock, result)
        handled += claimed
    return result


def deliveries_sweep_stuck(*, now: datetime) -> int:
    """SENDING rows older than the timeout: their send was interrupted. A provider may have the
    message, so NEEDS_REVIEW, for a person to decide — never a blind resend. A task or in-app
    message is different: its row and the SENT mark commit together, so a SENDING one was
    never created and goes back to SCHEDULED (the one-to-one delivery link guards a double)."""
    with transaction.atomic():
        stuck = list(
            Delivery.all_tenants.filter(status=Delivery.Status.SENDING, claimed_at__lt=now - SENDING_TIMEOUT)
            .select_related("step", "tenant")
            .select_for_update(skip_locked=True, of=("self",))
        )
        local = [d for d in stuck if d.step.channel in LOCAL_CHANNELS]
        for d in local:
            d.status, d.due_at, d.updated_at = Delivery.Status.SCHEDULED, now, now
            d.reason = "the worker stopped before creating it: created at the next dispatch"
        Delivery.all_tenants.bulk_update(local, ["status", "due_at", "reason", "updated_at"])
        stuck = [d for d in stuck if d.step.channel not in LOCAL_CHANNELS]
        for d in stuck:
            d.status = Delivery.Status.NEEDS_REVIEW
            d.reason = "the send was interrupted: it may or may not have gone out — check before resending"
            d.updated_at = now
            timeline_record(
                tenant=d.tenant,
                at=now,
                kind=TimelineKind.TOUCHPOINT_NEEDS_REVIEW,
                summary=f"{d.step.get_channel_display()} “{d.rendered_subject or d.step.key}” needs review: "
                "the send was interrupted",
                data={"delivery": d.id},
            )
        Delivery.all_tenants.bulk_update(stuck, ["status", "reason", "updated_at"])
    return len(stuck)
