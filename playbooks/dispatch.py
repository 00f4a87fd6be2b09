"""Dispatch: claim due deliveries, decide (skip, defer or send), hand the send to the outbox.

1. Claim. In one short transaction, due SCHEDULED rows are locked with SKIP LOCKED (a second
   tick or worker takes other rows, never the same), decided and, when they are to go,
   rendered, marked SENDING and given their outbox message (messaging.Message, one per
   attempt, its dedupe key `touchpoint:<delivery>:<attempt>`). Delivery and message commit
   together: a delivery is SENDING exactly when its message is in the outbox.
2. Send. Right after that commit the outbox sends those messages (messaging.outbox: claimed
   SKIP LOCKED, committed `sending` before the provider is called, never resent blindly);
   should this worker stop first, the outbox's own tick job sends them, and its send check
   (outcomes.touchpoints_still_due) holds back one whose send window has closed meanwhile.
3. Record. The outbox reports each outcome in the transaction that records it
   (outcomes.deliveries_follow_messages): SENT, DELIVERED, FAILED; a failure a later try may
   cure sends the delivery back to SCHEDULED, to be decided again and sent as a new message;
   an interrupted send goes to NEEDS_REVIEW for a person.

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
from django.db import transaction
from django.db.models import Q

from core.roles import ALL_STAFF_ROLES
from messaging.models import Message, Suppression
from messaging.outbox import messages_enqueue, messages_send_now, relaxed_commit
from messaging.retry import SENDING_TIMEOUT, advisory_locks
from tenants.models import Tenant, TimelineEntry

from .bulk import deliveries_write
from .channels import touchpoint_key, touchpoint_message
from .conditions import evaluate, windows_of
from .facts import EventWindow, TenantFacts, facts_for_tenants
from .models import CUSTOMER_CHANNELS, MESSAGE_CHANNELS, Channel, Delivery, InAppMessage, Task, TouchpointPause
from .outcomes import INTERRUPTED, review_entry, sent_timeline
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
    "message_id",
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
        _enqueue([d for d in to_send if d.step.channel not in LOCAL_CHANNELS], now)
        for d in batch:
            d.updated_at = now
        deliveries_write(batch, CLAIM_FIELDS)
    # Committed: the rows in `to_send` are SENDING, their messages in the outbox, before any
    # provider hears of them.
    return len(batch), to_send


def _enqueue(deliveries: list[Delivery], now: datetime) -> None:
    """Each delivery's message for this attempt, in the claim's transaction. The key is new
    (attempts only grow, and the row is locked); were it not, the existing message is linked,
    never a second one made."""
    messages = {d.id: touchpoint_message(d, now=now) for d in deliveries}
    messages_enqueue(messages.values())
    ids = dict(
        Message.objects.filter(dedupe_key__in=[m.dedupe_key for m in messages.values()]).values_list("dedupe_key", "id")
    )
    for d in deliveries:
        d.message_id = ids[messages[d.id].dedupe_key]


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


def _still_ours(deliveries: list[Delivery]) -> list[Delivery]:
    # Still ours? A sweeper may have given up on a row this worker took too long over: it went
    # back to SCHEDULED and is another worker's now.
    stored = set(
        Delivery.all_tenants.select_for_update()
        .filter(id__in=[d.id for d in deliveries], status=Delivery.Status.SENDING)
        .values_list("id", flat=True)
    )
    return [d for d in deliveries if d.id in stored]


def _mark_sent(deliveries: list[Delivery], now: datetime) -> int:
    """Tasks and in-app messages: SENT, with the timeline entries, in one transaction."""
    mine = _still_ours(deliveries)
    for d in mine:
        d.status, d.sent_at, d.reason, d.updated_at = Delivery.Status.SENT, now, "", now
        d.trace["provider"] = {"id": d.provider_id}
    deliveries_write(mine, SENT_FIELDS)
    sent_timeline(mine, now)
    return len(mine)


def _create_local(deliveries: list[Delivery], now: datetime) -> int:
    """Tasks and in-app messages: the rows and the SENT marks commit together — exactly once
    (and Task.delivery / InAppMessage.delivery are one-to-one: a double insert fails)."""
    if not deliveries:
        return 0
    assignee_of = _Assignees()
    with transaction.atomic():
        relaxed_commit()  # a lost mark makes the sweeper recreate: the one-to-one link guards a double
        mine = _still_ours(deliveries)
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


def _send_through_outbox(deliveries: list[Delivery], now: datetime, clock: Clock, result: DispatchResult) -> None:
    """The claimed deliveries' messages, sent at once; the outbox's outcome hook has moved each
    delivery by the time this returns, and the result counts where they stand."""
    if not deliveries:
        return
    messages_send_now(dedupe_keys=[touchpoint_key(d) for d in deliveries], now=now, clock=clock)
    statuses = Delivery.all_tenants.filter(id__in=[d.id for d in deliveries]).values_list("status", flat=True)
    for status in statuses:
        if status in (Delivery.Status.SENT, Delivery.Status.DELIVERED):
            result.sent += 1
        elif status == Delivery.Status.SCHEDULED:
            result.retried += 1  # to try again after a back-off, or when the window reopens
        elif status == Delivery.Status.FAILED:
            result.failed += 1
        elif status == Delivery.Status.SKIPPED:
            result.skipped += 1
        else:
            result.unknown += 1  # in review, or taken by another worker's outbox dispatch


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
        _send_through_outbox([d for d in to_send if d.step.channel not in LOCAL_CHANNELS], now, clock, result)
        handled += claimed
    return result


def deliveries_sweep_stuck(*, now: datetime) -> int:
    """SENDING rows older than the timeout that the outbox does not answer for. A task or
    in-app message: its row and the SENT mark commit together, so a SENDING one was never
    created and goes back to SCHEDULED (the one-to-one delivery link guards a double). An
    email, SMS or webhook with no outbox message (claimed before the outbox carried
    touchpoints): a provider may have it, so NEEDS_REVIEW — never a blind resend. (One with a
    message follows it: the outbox's sweeper reports an interrupted send.)"""
    with transaction.atomic():
        stuck = list(
            Delivery.all_tenants.filter(status=Delivery.Status.SENDING, claimed_at__lt=now - SENDING_TIMEOUT)
            .filter(Q(step__channel__in=LOCAL_CHANNELS) | Q(message__isnull=True))
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
            d.status, d.reason, d.updated_at = Delivery.Status.NEEDS_REVIEW, INTERRUPTED, now
        Delivery.all_tenants.bulk_update(stuck, ["status", "reason", "updated_at"])
        TimelineEntry.all_tenants.bulk_create(review_entry(d, now) for d in stuck)
    return len(stuck)
