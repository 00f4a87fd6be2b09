"""Starting runs and scheduling their deliveries; cancelling and completing runs.

Reconcile, don't react: the tick looks at which tenants should be in a playbook and are not,
and starts them; which runs should stop, and stops them. The Run's unique
(tenant, playbook, enrolment_key) and the Delivery's unique (run, step) make a second tick
doing the same work a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q

from alerts.models import ACTIVE_STATUSES, Alert
from billing.selectors import dunning_enrolment_key, dunning_episode_prefix, past_due_subscriptions
from billing.services import dunning_episode_fix
from billing.trials import trials_converted_since
from core.events import AuditAction, TimelineKind
from tenants.models import Tenant
from tenants.services import audit_record, timeline_record

from .conditions import describe, evaluate, windows_of
from .facts import facts_for_tenants
from .models import MESSAGE_CHANNELS, Channel, Delivery, Playbook, PlaybookVersion, Run, Step, Trigger

STALE_AFTER = timedelta(hours=24)
TERMINAL = [
    Delivery.Status.SENT,
    Delivery.Status.DELIVERED,
    Delivery.Status.SKIPPED,
    Delivery.Status.FAILED,
    Delivery.Status.CANCELLED,
    Delivery.Status.NEEDS_REVIEW,
]
# Deliveries that went out, or may have: never sent again by a later run of the same episode.
ALREADY_GONE = [
    Delivery.Status.SENT,
    Delivery.Status.DELIVERED,
    Delivery.Status.SENDING,
    Delivery.Status.NEEDS_REVIEW,
    Delivery.Status.FAILED,
]


class RunNotStarted(Exception):
    """A staff start that cannot happen; the message says why."""


def next_window_opening(at: datetime, *, tz: str, window: dict[str, str]) -> datetime:
    """`at` itself when it falls inside the tenant's send window, else the window's next
    opening, in the tenant's own time zone (daylight-saving days included)."""
    zone = ZoneInfo(tz)
    local = at.astimezone(zone)
    start, end = time.fromisoformat(window["start"]), time.fromisoformat(window["end"])
    if start <= local.time() < end:
        return at
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return datetime.combine(day, start, tzinfo=zone).astimezone(UTC)


def respects_window(step: Step) -> bool:
    # Customer-facing messages wait for the window; tasks, in-app notes and internal webhooks
    # do not, and transactional mail (the welcome) goes at once.
    return step.channel in MESSAGE_CHANNELS and not step.transactional


def sms_quiet_until(at: datetime, *, tz: str) -> datetime | None:
    """The end of the SMS quiet hours (SMS_QUIET_HOURS, tenant-local) when `at` falls inside
    them, else None. No text wakes anybody up, transactional or not."""
    if settings.SMS_QUIET_HOURS is None:
        return None
    start, end = settings.SMS_QUIET_HOURS
    zone = ZoneInfo(tz)
    local = at.astimezone(zone)
    now_time = local.time()
    quiet = (now_time >= start or now_time < end) if start > end else start <= now_time < end
    if not quiet:
        return None
    day = local.date() + timedelta(days=1) if start > end and now_time >= start else local.date()
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class SendMoment:
    at: datetime
    why: str  # "" when `at` is the moment asked about; else what it waits for


def earliest_send(step: Step, at: datetime, *, tz: str, window: dict[str, str]) -> SendMoment:
    """The first moment from `at` on when this step may go out to the tenant: inside the send
    window unless transactional, and outside the SMS quiet hours for any SMS. Checked when a
    delivery is scheduled and again when it is sent (a late tick, a retry, a new time zone)."""
    moment, why = at, ""
    for _ in range(3):  # a window that starts inside the quiet hours needs a second look
        if respects_window(step):
            opening = next_window_opening(moment, tz=tz, window=window)
            if opening > moment:
                moment, why = opening, "waiting for the tenant's send window"
        if step.channel == Channel.SMS:
            quiet_end = sms_quiet_until(moment, tz=tz)
            if quiet_end is not None:
                moment, why = quiet_end, "waiting: no SMS in the tenant's quiet hours"
                continue
        break
    return SendMoment(moment, why)


def day_n(anchor: datetime, *, days: int, hours: int, tz: str) -> datetime:
    """Day N is N calendar days in the tenant's time zone: the same wall-clock time N days
    later, whatever daylight saving did in between (a UTC sum would be an hour off)."""
    zone = ZoneInfo(tz)
    local = anchor.astimezone(zone)
    return (local + timedelta(days=days, hours=hours)).astimezone(UTC)


def due_at_for(step: Step, *, anchor: datetime, tenant: Tenant, window: dict[str, str]) -> tuple[datetime, datetime]:
    nominal = day_n(anchor, days=step.day, hours=step.hours, tz=tenant.timezone)
    return nominal, earliest_send(step, nominal, tz=tenant.timezone, window=window).at


def deliveries_follow_timezone(*, tenant: Tenant, previous: str, now: datetime) -> int:
    """A tenant moved to another time zone (a time-zone hook, inside the change's
    transaction): each delivery still scheduled gets its Day N and send window in the new
    zone. What went out, or is going out, is not touched. Returns how many moved."""
    # Locked without skip_locked: a tick claiming one of these rows right now commits first,
    # and PostgreSQL re-checks status=scheduled on the row it then locks, so a row the tick
    # took (now sending) is left to it and never sent twice.
    rows = list(
        Delivery.all_tenants.select_for_update(of=("self",))
        .filter(tenant=tenant, status=Delivery.Status.SCHEDULED)
        .select_related("step", "run__version")
        .order_by("id")
    )
    for d in rows:
        window = d.run.version.definition["send_window"]
        nominal = day_n(d.run.anchor, days=d.step.day, hours=d.step.hours, tz=tenant.timezone)
        # A retry keeps its back-off; anything else may go from its new Day N on, never earlier
        # than now (a Day N that the move put in the past goes at the next allowed moment).
        floor = max(nominal, now, d.due_at if d.attempts else nominal)
        allowed = earliest_send(d.step, floor, tz=tenant.timezone, window=window)
        d.nominal_at, d.due_at, d.updated_at = nominal, allowed.at, now
        if not d.attempts:
            d.reason = allowed.why
        d.trace = {**d.trace, "time_zone_moved": f"{previous} → {tenant.timezone} at {now.isoformat()}"}
    Delivery.all_tenants.bulk_update(rows, ["nominal_at", "due_at", "reason", "trace", "updated_at"])
    return len(rows)


def run_span(version: PlaybookVersion) -> timedelta:
    """How long after its anchor a run can still have a step to send."""
    last = max(((s["day"], s["hours"]) for s in version.definition["steps"]), default=(0, 0))
    return timedelta(days=last[0], hours=last[1]) + STALE_AFTER


def run_start(
    *,
    tenant: Tenant,
    playbook: Playbook,
    trigger: str,
    enrolment_key: str,
    anchor: datetime,
    now: datetime,
    actor: AbstractBaseUser | None = None,
    steps: list[Step] | None = None,
) -> Run | None:
    """Starts one run on the playbook's current version with a delivery per step. Returns
    None when this enrolment was already started (by another tick, or earlier)."""
    version = playbook.current
    steps = steps if steps is not None else list(version.steps.all())
    window = version.definition["send_window"]
    with transaction.atomic():
        try:
            # Savepoint: the unique (tenant, playbook, enrolment_key) decides a race between two
            # ticks starting the same enrolment; the loser's insert fails here and it moves on.
            with transaction.atomic():
                run = Run.objects.create(
                    tenant=tenant,
                    playbook=playbook,
                    version=version,
                    enrolment_key=enrolment_key,
                    trigger=trigger,
                    anchor=anchor,
                    started_at=now,
                    started_by=actor,
                )
        except IntegrityError:
            return None
        deliveries = []
        for step in steps:
            nominal, due = due_at_for(step, anchor=anchor, tenant=tenant, window=window)
            # A tenant imported with an old signup, or a run started late, gets what is still
            # due — never a backlog of past touchpoints.
            stale = due + STALE_AFTER < now
            deliveries.append(
                Delivery(
                    tenant=tenant,
                    run=run,
                    step=step,
                    nominal_at=nominal,
                    due_at=due,
                    status=Delivery.Status.SKIPPED if stale else Delivery.Status.SCHEDULED,
                    reason="stale: more than 24 h past due when the run started" if stale else "",
                )
            )
        Delivery.all_tenants.bulk_create(deliveries)
        timeline_record(
            tenant=tenant,
            at=now,
            kind=TimelineKind.PLAYBOOK_STARTED,
            summary=f"Playbook “{version.name}” (v{version.number}) started: {Trigger(trigger).label.lower()}",
            data={"playbook": playbook.slug, "version": version.number, "run": run.id},
        )
        if actor is not None:
            audit_record(actor=actor, action=AuditAction.PLAYBOOK_START, target=run, tenant=tenant, at=now)
    return run


# --- reconcile: who should be in which playbook ---------------------------------------------


@dataclass
class ReconcileResult:
    started: int = 0
    waiting_unknown: int = 0  # audience could not be evaluated (a fact is unknown)
    cancelled: int = 0
    completed: int = 0


def _already_enrolled(playbook: Playbook) -> Q:
    # A tenant signs up once: any run of this playbook, active or not, is its signup run (or a
    # hand-started one, which counts). Re-enrolment policies apply to repeating triggers.
    return Exists(Run.all_tenants.filter(tenant=OuterRef("pk"), playbook=playbook))


def _plans_allowed(audience: list[dict[str, Any]]) -> list[str] | None:
    """The plans an audience's `plan == X` or `plan in [...]` condition allows; None without one."""
    for condition in audience:
        if condition["fact"] == "plan" and condition["op"] in ("==", "in"):
            value = condition["value"]
            return list(value) if isinstance(value, (list, tuple)) else [value]
    return None


def signup_runs_start(*, now: datetime, result: ReconcileResult) -> None:
    """Tenants that signed up recently enough for an enabled signup playbook to still have a
    step due, and are not in it yet, start it — when its audience holds for them."""
    playbooks = Playbook.objects.filter(enabled=True, current__trigger=Trigger.SIGNUP).select_related("current")
    for playbook in playbooks:
        version = playbook.current
        recent = Tenant.objects.filter(signed_up_at__gt=now - run_span(version), signed_up_at__lte=now)
        plans = _plans_allowed(version.definition["audience"])
        if plans is not None:
            # A plan condition narrows the candidates in SQL: the others' facts are never read
            # (the condition is still evaluated with the rest of the audience below).
            recent = recent.filter(plan__in=plans)
        candidates = list(
            recent.exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
            .exclude(_already_enrolled(playbook))
            .select_related("csm_owner")
            .order_by("id")
        )
        if not candidates:
            continue
        _runs_start_where_audience_holds(
            playbook=playbook,
            starts=[(tenant, tenant.signed_up_at) for tenant in candidates],
            trigger=Trigger.SIGNUP,
            now=now,
            result=result,
        )


def _runs_start_where_audience_holds(
    *,
    playbook: Playbook,
    starts: list[tuple[Tenant, datetime]],
    trigger: str,
    now: datetime,
    result: ReconcileResult,
) -> None:
    """Starts `playbook` for each (tenant, anchor) whose audience holds now; an audience that
    cannot be evaluated (an unknown fact) waits and is counted so."""
    version = playbook.current
    audience = version.definition["audience"]
    tenants = [tenant for tenant, _ in starts]
    facts = facts_for_tenants(tenants, now=now, windows=windows_of(audience)) if audience else {}
    steps = list(version.steps.all())
    for tenant, anchor in starts:
        holds = evaluate(audience, facts[tenant.id]).holds if audience else True
        if holds is None:
            result.waiting_unknown += 1
        if not holds:
            continue
        run = run_start(
            tenant=tenant,
            playbook=playbook,
            trigger=trigger,
            enrolment_key=trigger,  # "signup", "trial_converted": a tenant enters each once
            anchor=anchor,
            now=now,
            steps=steps,
        )
        result.started += run is not None


def trial_converted_runs_start(*, now: datetime, result: ReconcileResult) -> None:
    """Tenants whose trial converted (billing: the first paid invoice) recently enough for an
    enabled trial_converted playbook to have a step still due start it, from the conversion.
    One run per tenant: a tenant converts once (one trial per tenant)."""
    playbooks = Playbook.objects.filter(enabled=True, current__trigger=Trigger.TRIAL_CONVERTED).select_related(
        "current"
    )
    for playbook in playbooks:
        version = playbook.current
        enrolled = set(Run.all_tenants.filter(playbook=playbook).values_list("tenant_id", flat=True))
        converted = [t for t in trials_converted_since(since=now - run_span(version)) if t.tenant_id not in enrolled]
        if not converted:
            continue
        _runs_start_where_audience_holds(
            playbook=playbook,
            starts=[(trial.tenant, trial.converted_at) for trial in converted],
            trigger=Trigger.TRIAL_CONVERTED,
            now=now,
            result=result,
        )


def runs_cancel(*, runs: list[Run], reason: str, now: datetime) -> int:
    """Cancels the runs and every delivery of theirs that has not gone yet."""
    if not runs:
        return 0
    ids = [r.id for r in runs]
    with transaction.atomic():
        Run.all_tenants.filter(id__in=ids, status=Run.Status.ACTIVE).update(
            status=Run.Status.CANCELLED, ended_at=now, cancelled_reason=reason[:300]
        )
        # Only SCHEDULED rows: one a worker has claimed (SENDING) is already on its way.
        Delivery.all_tenants.filter(run_id__in=ids, status=Delivery.Status.SCHEDULED).update(
            status=Delivery.Status.CANCELLED, reason=f"run cancelled: {reason}"[:500]
        )
        for run in runs:
            timeline_record(
                tenant=run.tenant,
                at=now,
                kind=TimelineKind.PLAYBOOK_CANCELLED,
                summary=f"Playbook “{run.version.name}” cancelled: {reason}",
                data={"playbook": run.playbook.slug, "run": run.id},
            )
    return len(runs)


def runs_reconcile_active(*, now: datetime, result: ReconcileResult) -> None:
    """Cancels runs whose stop condition now holds (paid, healthy again…) or whose tenant
    churned; completes runs with nothing left to send."""
    active = Run.all_tenants.filter(status=Run.Status.ACTIVE).select_related("tenant", "version", "playbook")
    churned = list(active.filter(tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED))
    result.cancelled += runs_cancel(runs=churned, reason="the tenant churned", now=now)
    churned_ids = {r.id for r in churned}
    with_stops = [r for r in active.exclude(version__definition__stop_when=[]) if r.id not in churned_ids]
    by_version: dict[int, list[Run]] = {}
    for run in with_stops:
        by_version.setdefault(run.version_id, []).append(run)
    for runs in by_version.values():
        # Any one stop condition that holds stops the run.
        stop_when = runs[0].version.definition["stop_when"]
        facts = facts_for_tenants([r.tenant for r in runs], now=now, windows=windows_of(stop_when))
        for run in runs:
            met = next((c for c in stop_when if evaluate([c], facts[run.tenant_id]).holds), None)
            if met is not None:
                reason = f"stop condition met: {describe(met)}"
                result.cancelled += runs_cancel(runs=[run], reason=reason, now=now)
    open_work = Delivery.all_tenants.filter(
        run=OuterRef("pk"), status__in=[Delivery.Status.SCHEDULED, Delivery.Status.SENDING]
    )
    finished = Run.all_tenants.filter(status=Run.Status.ACTIVE).exclude(Exists(open_work))
    result.completed += finished.update(status=Run.Status.COMPLETED, ended_at=now)


def past_due_runs_start(*, now: datetime, result: ReconcileResult) -> None:
    """Every past-due subscription whose dunning is not paused is in each enabled past-due
    playbook (dunning) for its current episode. The enrolment key names the episode (and each
    resume after a pause), so the unique constraint makes a second tick a no-op, and the next
    episode — months later — a new run. Day 0 is when it went past due: a webhook that came
    late, or a resume, sends what is still due, never a backlog."""
    playbooks = list(
        Playbook.objects.filter(enabled=True, current__trigger=Trigger.SUBSCRIPTION_PAST_DUE).select_related("current")
    )
    if not playbooks:
        return
    due = [dunning_episode_fix(subscription=s) for s in past_due_subscriptions() if s.dunning_paused_at is None]
    for playbook in playbooks:
        steps = list(playbook.current.steps.all())
        runs = Run.all_tenants.filter(playbook=playbook, tenant_id__in=[s.tenant_id for s in due])
        keys = set(runs.values_list("tenant_id", "enrolment_key"))
        busy = set(runs.filter(status=Run.Status.ACTIVE).values_list("tenant_id", flat=True))
        for subscription in due:
            key = dunning_enrolment_key(subscription)
            # One run at a time: a paused run still active waits for the tick to cancel it.
            if (subscription.tenant_id, key) in keys or subscription.tenant_id in busy:
                continue
            # A resume sends what is still due and never a step an earlier run of this
            # episode already sent (or may have: sending, left for review).
            done = set(
                Delivery.all_tenants.filter(
                    run__playbook=playbook,
                    run__tenant_id=subscription.tenant_id,
                    run__enrolment_key__startswith=dunning_episode_prefix(subscription),
                    status__in=ALREADY_GONE,
                ).values_list("step__key", flat=True)
            )
            remaining = [step for step in steps if step.key not in done]
            if not remaining:
                continue
            run = run_start(
                tenant=subscription.tenant,
                playbook=playbook,
                trigger=Trigger.SUBSCRIPTION_PAST_DUE,
                enrolment_key=key,
                anchor=subscription.dunning_episode_at or subscription.past_due_since or now,
                now=now,
                steps=remaining,
            )
            result.started += run is not None


def alert_runs_start(*, now: datetime, result: ReconcileResult) -> None:
    """A playbook triggered by an escalation rule runs for each open alert of that rule (the
    enrolment is the alert). Level-triggered: whichever tick first sees the alert open without
    its run starts it — the one after the rules' evaluation in the same tick, or the next if
    that one failed. Alerts opened more than STALE_AFTER ago are left alone: enabling a
    playbook does not reach back to old alerts. The playbook's re-enrolment policy ("once"
    ever, or once per N days) is counted over the tenant's earlier runs of it."""
    playbooks = list(
        Playbook.objects.filter(enabled=True, current__trigger=Trigger.ALERT)
        .exclude(current__trigger_rule="")
        .select_related("current")
        .order_by("slug")
    )
    # One query for every alert playbook's recent alerts (a tick usually finds none).
    recent: dict[str, list[Alert]] = {}
    for alert in (
        Alert.all_tenants.filter(
            rule__slug__in={p.current.trigger_rule for p in playbooks},
            status__in=ACTIVE_STATUSES,
            opened_at__gt=now - STALE_AFTER,
            opened_at__lte=now,
        )
        .select_related("tenant", "rule")
        .order_by("opened_at", "id")
    ):
        recent.setdefault(alert.rule.slug, []).append(alert)
    for playbook in playbooks:
        alerts = recent.get(playbook.current.trigger_rule, [])
        if not alerts:
            continue
        earlier: dict[int, list[tuple[datetime, str]]] = {}
        for tenant_id, started_at, key in Run.all_tenants.filter(
            playbook=playbook, tenant_id__in={a.tenant_id for a in alerts}
        ).values_list("tenant_id", "started_at", "enrolment_key"):
            earlier.setdefault(tenant_id, []).append((started_at, key))
        reenrol = playbook.current.definition.get("reenrol", {"policy": "once"})
        steps = list(playbook.current.steps.all())
        for alert in alerts:
            key = f"alert:{alert.id}"
            runs = earlier.get(alert.tenant_id, [])
            if any(k == key for _, k in runs):
                continue  # started already (the unique enrolment key would refuse it anyway)
            if reenrol["policy"] == "every":
                runs = [r for r in runs if r[0] > now - timedelta(days=reenrol["days"])]
            if runs:
                continue
            # None when the tenant is already in this playbook (one active run per playbook).
            run = run_start(
                tenant=alert.tenant,
                playbook=playbook,
                trigger=Trigger.ALERT,
                enrolment_key=key,
                anchor=alert.opened_at,
                now=now,
                steps=steps,
            )
            if run is not None:
                result.started += 1
                earlier.setdefault(alert.tenant_id, []).append((now, key))


def runs_reconcile(*, now: datetime) -> ReconcileResult:
    result = ReconcileResult()
    signup_runs_start(now=now, result=result)
    trial_converted_runs_start(now=now, result=result)
    past_due_runs_start(now=now, result=result)
    alert_runs_start(now=now, result=result)
    runs_reconcile_active(now=now, result=result)
    return result


def run_start_manual(*, tenant: Tenant, playbook: Playbook, actor: AbstractBaseUser, now: datetime) -> Run:
    """A staff member starts a playbook for a tenant now (audited)."""
    if not playbook.enabled:
        raise RunNotStarted(f"“{playbook.current.name}” is disabled: enable it first.")
    if tenant.lifecycle_stage == Tenant.LifecycleStage.CHURNED:
        raise RunNotStarted(f"{tenant.name} has churned: playbooks do not run for churned tenants.")
    active = Run.objects.for_tenant(tenant).filter(playbook=playbook, status=Run.Status.ACTIVE).first()
    if active is not None:
        raise RunNotStarted(
            f"“{playbook.current.name}” is already running for {tenant.name} (since {active.started_at:%-d %b %Y})."
        )
    run = run_start(
        tenant=tenant,
        playbook=playbook,
        trigger=Trigger.MANUAL,
        enrolment_key=f"manual:{now.isoformat()}",
        anchor=now,
        now=now,
        actor=actor,
    )
    if run is None:
        raise RunNotStarted("This playbook was just started for this tenant.")
    return run
