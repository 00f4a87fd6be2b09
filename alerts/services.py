"""Writes for escalation rules and alerts: the tick's reconcile (open what holds, resolve what
cleared), the SLA check, and what people do to an alert (acknowledge, assign, snooze,
resolve) — each transition on the tenant's timeline and in the audit log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.events import AuditAction, TimelineKind
from core.roles import staff_roles_of
from tenants.models import Tenant, TimelineEntry
from tenants.services import audit_record, audit_record_many, timeline_entry, timeline_record

from . import notify
from .models import ACTIVE_STATUSES, Alert, AlertRule, Route, Severity
from .rules import RULES, Finding, RuleSpec
from .selectors import routes_visible_to

MAX_SNOOZE = timedelta(days=30)
logger = logging.getLogger(__name__)


class AlertActionError(ValueError):
    """A transition that cannot happen; the message says why."""


# --- SLA ---------------------------------------------------------------------------------------


def add_business_days(at: datetime, days: int) -> datetime:
    """`at` plus `days` working days (Monday–Friday) in the CS team's time zone, same clock time.
    Opened on a weekend, the count starts from Monday morning's equivalent."""
    local = at.astimezone(ZoneInfo(settings.CS_TEAM_TIMEZONE))
    while local.weekday() >= 5:
        local = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    while days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            days -= 1
    return local


def sla_due_at(severity: str, opened_at: datetime) -> datetime | None:
    if severity == Severity.P1:
        return opened_at + timedelta(minutes=settings.ALERT_SLA_P1_MINUTES)
    if severity == Severity.P2:
        return opened_at + timedelta(minutes=settings.ALERT_SLA_P2_MINUTES)
    if severity == Severity.P3:
        return add_business_days(opened_at, settings.ALERT_SLA_P3_BUSINESS_DAYS)
    return None  # info alerts have no response SLA


# --- rules -------------------------------------------------------------------------------------


def rules_sync(*, now: datetime) -> None:
    """A row per built-in rule (new rules appear with their defaults). A rule that cannot run
    here yet is created disabled; its page says why."""
    existing = set(AlertRule.objects.values_list("slug", flat=True))
    missing = [
        AlertRule(
            slug=spec.slug,
            enabled=True,
            severity=spec.severity,
            route=spec.route,
            params=dict(spec.defaults),
            updated_at=now,
        )
        for spec in RULES.values()
        if spec.slug not in existing
    ]
    # Two first ticks at once: the unique slug keeps one row each.
    AlertRule.objects.bulk_create(missing, ignore_conflicts=True)


@dataclass
class EvaluationResult:
    opened: int = 0
    resolved: int = 0
    rules: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.rules} rule(s) evaluated: {self.opened} alert(s) opened, {self.resolved} resolved"
        if self.skipped:
            text += f"; not evaluated: {', '.join(self.skipped)}"
        return text


def rules_evaluate(*, now: datetime) -> EvaluationResult:
    rules_sync(now=now)
    result = EvaluationResult()
    for rule in AlertRule.objects.order_by("slug"):
        spec = RULES.get(rule.slug)
        if spec is None or not rule.enabled:
            continue
        try:
            rule_evaluate(rule_id=rule.id, spec=spec, now=now, result=result)
        except Exception as exc:  # one broken rule must not stop the others (its transaction rolled back)
            logger.exception("alert rule %s failed for now=%s", rule.slug, now.isoformat())
            result.skipped.append(f"{rule.slug} (failed: {exc})")
            AlertRule.objects.filter(id=rule.id).update(last_result=f"failed: {exc}"[:300])
    return result


def rule_evaluate(*, rule_id: int, spec: RuleSpec, now: datetime, result: EvaluationResult) -> None:
    with transaction.atomic():
        # SKIP LOCKED on the rule: a second tick evaluating the same rule at the same time skips
        # it instead of computing the same alerts (the first one's commit covers it). The
        # partial unique (tenant, rule) on active alerts is the guard beneath this.
        rule = AlertRule.objects.select_for_update(skip_locked=True).filter(id=rule_id, enabled=True).first()
        if rule is None:
            return
        findings = spec.evaluate(spec.effective(rule.params), now)
        active = {a.tenant_id: a for a in Alert.all_tenants.filter(rule=rule, status__in=ACTIVE_STATUSES).order_by()}
        latched = set(Alert.all_tenants.filter(rule=rule, rearm_pending=True).values_list("tenant_id", flat=True))
        # A tenant whose person-resolved alert's condition has cleared is re-armed: the next
        # time the condition holds, a new alert opens.
        rearmed = latched - set(findings)
        if rearmed:
            Alert.all_tenants.filter(rule=rule, rearm_pending=True, tenant_id__in=rearmed).update(rearm_pending=False)
        to_open = sorted(set(findings) - set(active) - (latched - rearmed))
        to_resolve = [a for tenant_id, a in active.items() if tenant_id not in findings]
        opened = _alerts_open(rule=rule, spec=spec, findings=findings, tenant_ids=to_open, now=now)
        resolved = _alerts_auto_resolve(rule=rule, spec=spec, alerts=to_resolve, now=now)
        notify.alerts_opened_notify(alerts=opened, now=now)
        rule.last_evaluated_at = now
        rule.last_result = f"holds for {len(findings)}; {len(opened)} opened, {resolved} resolved"
        rule.save(update_fields=["last_evaluated_at", "last_result"])
    result.rules += 1
    result.opened += len(opened)
    result.resolved += resolved


def _alerts_open(
    *, rule: AlertRule, spec: RuleSpec, findings: dict[int, Finding], tenant_ids: list[int], now: datetime
) -> list[Alert]:
    if not tenant_ids:
        return []
    owners = dict(Tenant.objects.filter(id__in=tenant_ids).values_list("id", "csm_owner_id"))
    due = sla_due_at(rule.severity, now)
    Alert.all_tenants.bulk_create(
        [
            Alert(
                tenant_id=tenant_id,
                rule=rule,
                severity=rule.severity,
                route=rule.route,
                # A CSM-routed alert goes to the tenant's CSM; without one, and for the other
                # routes, it waits in the role's queue.
                assignee_id=owners.get(tenant_id) if rule.route == Route.CSM else None,
                rationale=findings[tenant_id].rationale[:500],
                facts=findings[tenant_id].facts,
                opened_at=now,
                sla_due_at=due,
            )
            for tenant_id in tenant_ids
            if tenant_id in owners
        ],
        # The unique (tenant, rule) on active alerts decides any race the rule lock does not
        # cover: a conflicting insert is skipped, never a second alert.
        ignore_conflicts=True,
    )
    # The rows this evaluation opened (under the rule lock no one else opens for this rule).
    opened = list(
        Alert.all_tenants.filter(rule=rule, tenant_id__in=tenant_ids, opened_at=now, status=Alert.Status.OPEN)
        .select_related("tenant", "assignee")
        .order_by("id")
    )
    TimelineEntry.all_tenants.bulk_create(
        timeline_entry(
            tenant_id=a.tenant_id,
            at=now,
            kind=TimelineKind.ALERT_OPENED,
            summary=f"{a.severity} alert opened — {spec.name}: {a.rationale}"[:500],
            data={"alert": a.id, "rule": rule.slug, "facts": a.facts},
        )
        for a in opened
    )
    audit_record_many(
        actor=None,
        action=AuditAction.ALERT_OPEN,
        at=now,
        entries=[(a, a.tenant_id, {"rationale": a.rationale, "facts": a.facts}) for a in opened],
    )
    return opened


def _alerts_auto_resolve(*, rule: AlertRule, spec: RuleSpec, alerts: list[Alert], now: datetime) -> int:
    if not alerts:
        return 0
    # Re-read under row locks: a person may have resolved (or snoozed) one since the rule read
    # them; their resolution and note must not be overwritten by ours.
    alerts = list(
        Alert.all_tenants.filter(id__in=[a.id for a in alerts], status__in=ACTIVE_STATUSES)
        .select_for_update(of=("self",))
        .order_by("id")
    )
    if not alerts:
        return 0
    snapshot = {
        row[0]: row[1:]
        for row in Tenant.objects.filter(id__in=[a.tenant_id for a in alerts]).values_list(
            "id", "lifecycle_stage", "health_score", "health_bucket", "last_seen_at"
        )
    }
    for a in alerts:
        stage, score, bucket, last_seen = snapshot.get(a.tenant_id, ("", None, "", None))
        reason = "the tenant churned" if stage == Tenant.LifecycleStage.CHURNED else spec.cleared
        a.status, a.resolved_at, a.resolution = Alert.Status.RESOLVED, now, f"auto-resolved: {reason}"
        a.facts = {
            **a.facts,
            "at_resolution": {
                "health_score": round(score, 1) if score is not None else None,
                "health_bucket": bucket or None,
                "last_event_at": last_seen.isoformat() if last_seen else None,
            },
        }
    Alert.all_tenants.bulk_update(alerts, ["status", "resolved_at", "resolution", "facts"])
    TimelineEntry.all_tenants.bulk_create(
        timeline_entry(
            tenant_id=a.tenant_id,
            at=now,
            kind=TimelineKind.ALERT_RESOLVED,
            summary=f"Alert resolved — {spec.name}: {a.resolution}"[:500],
            data={"alert": a.id, "rule": rule.slug, "facts": a.facts["at_resolution"]},
        )
        for a in alerts
    )
    audit_record_many(
        actor=None,
        action=AuditAction.ALERT_AUTO_RESOLVE,
        at=now,
        entries=[(a, a.tenant_id, {"resolution": a.resolution}) for a in alerts],
    )
    return len(alerts)


# --- SLA and snoozes ---------------------------------------------------------------------------


def alerts_check_sla(*, now: datetime) -> tuple[int, int]:
    """Unacknowledged alerts past their SLA are marked breached and escalated to the CS leads
    (an email each, and their webhook); snoozes that ended put their alert back in the queue.
    Returns (breached, woken)."""
    with transaction.atomic():
        # SKIP LOCKED: a person acknowledging right now holds the row; it is not breached under them.
        breached = list(
            Alert.all_tenants.filter(
                status=Alert.Status.OPEN,
                acknowledged_at__isnull=True,
                sla_breached_at__isnull=True,
                sla_due_at__lte=now,
            )
            .select_related("tenant", "rule", "assignee")
            .select_for_update(skip_locked=True, of=("self",))
        )
        for a in breached:
            # The alert stays in its own queue (billing ops keep their billing alert); the CS
            # leads are told, and see it under "SLA: breached".
            a.sla_breached_at = now
        Alert.all_tenants.filter(id__in=[a.id for a in breached]).update(sla_breached_at=now)
        TimelineEntry.all_tenants.bulk_create(
            timeline_entry(
                tenant_id=a.tenant_id,
                at=now,
                kind=TimelineKind.ALERT_SLA_BREACHED,
                summary=f"{a.severity} alert not acknowledged by {a.sla_due_at:%H:%M} UTC: escalated to the CS lead",
                data={"alert": a.id, "rule": a.rule.slug},
            )
            for a in breached
        )
        audit_record_many(
            actor=None,
            action=AuditAction.ALERT_SLA_BREACH,
            at=now,
            entries=[(a, a.tenant_id, {"sla_due_at": a.sla_due_at, "escalated_to": Route.CS_LEAD}) for a in breached],
        )
        notify.alerts_escalated_notify(alerts=breached, now=now)
    with transaction.atomic():
        woken = list(
            Alert.all_tenants.filter(status=Alert.Status.SNOOZED, snoozed_until__lte=now)
            .select_related("tenant", "rule")
            .select_for_update(skip_locked=True, of=("self",))
        )
        for a in woken:
            a.status = Alert.Status.ACKNOWLEDGED if a.acknowledged_at else Alert.Status.OPEN
        Alert.all_tenants.bulk_update(woken, ["status"])
        TimelineEntry.all_tenants.bulk_create(
            timeline_entry(
                tenant_id=a.tenant_id,
                at=now,
                kind=TimelineKind.ALERT_SNOOZE_ENDED,
                summary=f"Snooze ended: the {a.rule.slug} alert is back in the queue",
                data={"alert": a.id},
            )
            for a in woken
        )
        audit_record_many(
            actor=None,
            action=AuditAction.ALERT_SNOOZE_END,
            at=now,
            entries=[(a, a.tenant_id, {"status": a.status}) for a in woken],
        )
    return len(breached), len(woken)


# --- what people do ----------------------------------------------------------------------------


def _locked(alert: Alert) -> Alert:
    # Locked: a double click or two people at once make one transition, audited once.
    locked = Alert.all_tenants.select_for_update(of=("self",)).select_related("tenant", "rule").get(id=alert.id)
    if locked.status == Alert.Status.RESOLVED:
        raise AlertActionError(f"This alert was already resolved ({locked.resolution}).")
    return locked


def _record(alert: Alert, *, actor: AbstractBaseUser, action: str, summary: str, now: datetime, after: dict) -> None:
    timeline_record(
        tenant=alert.tenant, at=now, kind=f"alert.{action}", summary=summary, data={"alert": alert.id, **after}
    )
    audit_record(actor=actor, action=f"alert.{action}", target=alert, tenant=alert.tenant, at=now, after=after)


def alert_acknowledge(*, alert: Alert, actor: AbstractBaseUser, note: str = "", now: datetime) -> Alert:
    with transaction.atomic():
        alert = _locked(alert)
        if alert.status == Alert.Status.ACKNOWLEDGED:
            return alert
        alert.status = Alert.Status.ACKNOWLEDGED
        alert.acknowledged_at = alert.acknowledged_at or now
        alert.acknowledged_by = alert.acknowledged_by or actor
        alert.snoozed_until = None
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "snoozed_until"])
        _record(
            alert,
            actor=actor,
            action="acknowledged",
            summary=f"Alert acknowledged by {actor.get_username()}: {alert.rule.slug}" + (f" — {note}" if note else ""),
            now=now,
            after={"note": note},
        )
    return alert


def alert_assign(*, alert: Alert, actor: AbstractBaseUser, assignee_id: int | None, now: datetime) -> Alert:
    assignee = None
    if assignee_id is not None:
        assignee = get_user_model().objects.filter(id=assignee_id, is_active=True).first()
        if assignee is None or not staff_roles_of(assignee):
            raise AlertActionError("Alerts can be assigned to active customer-success staff only.")
        if alert.route not in routes_visible_to(assignee):
            raise AlertActionError(f"{assignee.get_username()} does not work the {alert.get_route_display()} queue.")
    with transaction.atomic():
        alert = _locked(alert)
        before = alert.assignee.get_username() if alert.assignee else None
        alert.assignee = assignee
        alert.save(update_fields=["assignee"])
        who = assignee.get_username() if assignee else f"the {alert.get_route_display()} queue"
        _record(
            alert,
            actor=actor,
            action="assigned",
            summary=f"Alert {alert.rule.slug} assigned to {who} by {actor.get_username()}",
            now=now,
            after={"from": before, "to": assignee.get_username() if assignee else None},
        )
    return alert


def snooze_end_check(*, until: datetime, now: datetime) -> None:
    if until <= now:
        raise AlertActionError("A snooze must end in the future.")
    if until > now + MAX_SNOOZE:
        raise AlertActionError("A snooze can last 30 days at most: resolve the alert instead.")


def alert_snooze(*, alert: Alert, actor: AbstractBaseUser, until: datetime, note: str = "", now: datetime) -> Alert:
    snooze_end_check(until=until, now=now)
    with transaction.atomic():
        alert = _locked(alert)
        # A snooze is a response: it counts as acknowledging for the SLA.
        alert.status, alert.snoozed_until = Alert.Status.SNOOZED, until
        alert.acknowledged_at = alert.acknowledged_at or now
        alert.acknowledged_by = alert.acknowledged_by or actor
        alert.save(update_fields=["status", "snoozed_until", "acknowledged_at", "acknowledged_by"])
        _record(
            alert,
            actor=actor,
            action="snoozed",
            summary=f"Alert {alert.rule.slug} snoozed until {until.astimezone(UTC):%-d %b %H:%M} UTC by "
            f"{actor.get_username()}" + (f" — {note}" if note else ""),
            now=now,
            after={"until": until.isoformat(), "note": note},
        )
    return alert


def alert_resolve(*, alert: Alert, actor: AbstractBaseUser, note: str, now: datetime) -> Alert:
    note = note.strip()
    if not note:
        raise AlertActionError("Say how it was resolved: a note is required.")
    with transaction.atomic():
        alert = _locked(alert)
        alert.status, alert.resolved_at, alert.resolved_by = Alert.Status.RESOLVED, now, actor
        alert.resolution = f"resolved by {actor.get_username()}: {note}"[:500]
        alert.acknowledged_at = alert.acknowledged_at or now
        alert.acknowledged_by = alert.acknowledged_by or actor
        # No new alert while the condition still holds; the next clear re-arms the rule.
        alert.rearm_pending = True
        alert.save(
            update_fields=[
                "status",
                "resolved_at",
                "resolved_by",
                "resolution",
                "acknowledged_at",
                "acknowledged_by",
                "rearm_pending",
            ]
        )
        _record(
            alert,
            actor=actor,
            action="resolved",
            summary=f"Alert {alert.rule.slug} resolved by {actor.get_username()}: {note}",
            now=now,
            after={"note": note},
        )
    return alert


def rule_update(
    *,
    rule: AlertRule,
    actor: AbstractBaseUser,
    enabled: bool,
    severity: str,
    route: str,
    params: dict[str, Any],
    now: datetime,
) -> tuple[AlertRule, dict[str, str]]:
    """Staff tune a rule. Returns the rule and, when nothing was saved, the errors by field.
    Disabling resolves the rule's open alerts (nothing would ever resolve them)."""
    spec = RULES[rule.slug]
    cleaned, errors = spec.clean_params(params)
    if severity not in Severity.values:
        errors["severity"] = f"“{severity}” is not a severity: P1, P2, P3 or info."
    if route not in Route.values:
        errors["route"] = f"“{route}” is not a queue: csm, cs_lead or billing_ops."
    if errors:
        return rule, errors
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update().get(id=rule.id)
        before = {"enabled": rule.enabled, "severity": rule.severity, "route": rule.route, "params": rule.params}
        rule.enabled, rule.severity, rule.route, rule.params = enabled, severity, route, cleaned
        rule.updated_at, rule.updated_by = now, actor
        rule.save()
        after = {"enabled": enabled, "severity": severity, "route": route, "params": cleaned}
        audit_record(actor=actor, action=AuditAction.ALERT_RULE_UPDATE, target=rule, at=now, before=before, after=after)
        if before["enabled"] and not enabled:
            # Locked: a person acting on one of them right now finishes first; never overwritten.
            open_alerts = list(
                Alert.all_tenants.filter(rule=rule, status__in=ACTIVE_STATUSES).select_for_update(of=("self",))
            )
            for a in open_alerts:
                a.status, a.resolved_at, a.resolved_by = Alert.Status.RESOLVED, now, actor
                a.resolution = f"the rule was disabled by {actor.get_username()}"
            Alert.all_tenants.bulk_update(open_alerts, ["status", "resolved_at", "resolved_by", "resolution"])
            audit_record_many(
                actor=actor,
                action=AuditAction.ALERT_RESOLVED,
                at=now,
                entries=[(a, a.tenant_id, {"resolution": a.resolution}) for a in open_alerts],
            )
            TimelineEntry.all_tenants.bulk_create(
                timeline_entry(
                    tenant_id=a.tenant_id,
                    at=now,
                    kind=TimelineKind.ALERT_RESOLVED,
                    summary=f"Alert resolved: {a.resolution}",
                    data={"alert": a.id, "rule": rule.slug},
                )
                for a in open_alerts
            )
    return rule, {}
