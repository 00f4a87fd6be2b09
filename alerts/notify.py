"""Alert notifications: who hears of an alert and how, within each person's attention budget,
and the daily and weekly digests. Every message is an AlertNotification row (unique dedupe
key: a second tick makes no second row), sent by the same channel senders as touchpoints
(messaging's email_send / webhook_post) with the same never-twice discipline: claimed
with SKIP LOCKED and committed SENDING before the provider is called; an unknown outcome is
left for review, never resent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.urls import reverse

from core.roles import StaffRole
from messaging import email as email_provider
from messaging import webhook as webhook_provider
from messaging.errors import ProviderError, RetryableError
from messaging.retry import MAX_ATTEMPTS, SENDING_TIMEOUT, advisory_locks, retry_at_after
from messaging.webhook import slack_escape

from .models import Alert, AlertNotification, Route, Severity

logger = logging.getLogger(__name__)
Kind, Status = AlertNotification.Kind, AlertNotification.Status
INTERRUPTIVE = [Kind.PUSH, Kind.ESCALATION]
BUDGET_LOCK_NAMESPACE = 7_306  # pg_advisory_xact_lock(namespace, user id): the budget's lock


def _url(name: str, *args: Any, query: str = "") -> str:
    return settings.SITE_URL + reverse(name, args=args) + (f"?{query}" if query else "")


def _team_day_start(now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(settings.CS_TEAM_TIMEZONE))
    return datetime.combine(local.date(), time(), tzinfo=local.tzinfo)


def _role_members(routes: set[str]) -> dict[str, list[AbstractBaseUser]]:
    members: dict[str, list[AbstractBaseUser]] = {r: [] for r in routes}
    users = get_user_model().objects.filter(is_active=True, groups__name__in=sorted(routes)).exclude(email="")
    for user in users.prefetch_related("groups").order_by("id"):
        for group in user.groups.all():
            if group.name in members:
                members[group.name].append(user)
    return members


def _recipients(alerts: list[Alert], routes_of: dict[int, str]) -> dict[int, list[AbstractBaseUser]]:
    """The assignee when there is one (with an email address), else everyone in the queue's role."""
    queues = {routes_of[a.id] for a in alerts if a.assignee is None or not a.assignee.email}
    members = _role_members(queues) if queues else {}
    return {
        a.id: [a.assignee] if a.assignee is not None and a.assignee.email else members.get(routes_of[a.id], [])
        for a in alerts
    }


def _lock_budgets(user_ids: set[int]) -> None:
    # Two rules opening alerts for one person at once could both see "9 pushed today" and both
    # push the 10th: a lock per person serialises the budget check.
    advisory_locks(BUDGET_LOCK_NAMESPACE, user_ids)


def pushes_today(user_ids: set[int], now: datetime) -> dict[int, int]:
    rows = (
        AlertNotification.objects.filter(
            user_id__in=user_ids, kind__in=INTERRUPTIVE, channel=AlertNotification.Channel.EMAIL
        )
        .filter(created_at__gte=_team_day_start(now))
        .values("user_id")
        .annotate(n=Count("id"))
    )
    return {row["user_id"]: row["n"] for row in rows}


def _alert_email(alert: Alert, user: AbstractBaseUser, *, kind: str, now: datetime) -> AlertNotification:
    tenant = alert.tenant
    if kind == Kind.ESCALATION:
        subject = f"[{alert.severity} SLA breached] {alert.rule.slug.replace('_', ' ')} — {tenant.name}"
    else:
        subject = f"[{alert.severity}] {alert.rule.slug.replace('_', ' ')} — {tenant.name}"
    body = render_to_string(
        "alerts/email/alert.txt",
        {
            "alert": alert,
            "kind": kind,
            "tenant_url": _url("cockpit:tenant-detail", tenant.external_id),
            "queue_url": _url("cockpit:alerts", query=f"tenant={tenant.external_id}"),
            "budget": settings.ALERT_DAILY_PUSH_BUDGET,
        },
    )
    return AlertNotification(
        dedupe_key=f"alert:{alert.id}:{kind}:email:{user.id}",
        kind=kind,
        channel=AlertNotification.Channel.EMAIL,
        alert=alert,
        user=user,
        recipient=user.email,
        subject=" ".join(subject.split())[:300],
        body=body,
        created_at=now,
        due_at=now,
    )


def _alert_webhook(alert: Alert, url: str, *, kind: str, now: datetime) -> AlertNotification:
    tenant = alert.tenant
    link = _url("cockpit:tenant-detail", tenant.external_id)
    headline = "SLA breached, escalated to the CS lead" if kind == Kind.ESCALATION else "Alert opened"
    text = (
        f"*{alert.severity} · {alert.rule.slug}* — {headline}\n"
        f"{slack_escape(alert.rationale)}\n<{link}|{slack_escape(tenant.name)} in the cockpit>"
    )
    return AlertNotification(
        dedupe_key=f"alert:{alert.id}:{kind}:webhook:{alert.route}",
        kind=kind,
        channel=AlertNotification.Channel.WEBHOOK,
        alert=alert,
        recipient=url,
        subject=f"{alert.severity} {alert.rule.slug} — {tenant.name}"[:300],
        body=text,
        payload={
            "text": text,
            "alert": {
                "id": alert.id,
                "rule": alert.rule.slug,
                "severity": alert.severity,
                "route": alert.route,
                "rationale": alert.rationale,
                "opened_at": alert.opened_at.isoformat(),
                "event": kind,
            },
            "tenant": {"external_id": tenant.external_id, "name": tenant.name, "plan": tenant.plan},
        },
        created_at=now,
        due_at=now,
    )


def alerts_opened_notify(*, alerts: list[Alert], now: datetime) -> None:
    """Runs in the transaction that opened the alerts. Each recipient gets a push while their
    budget for the day lasts; P1 always pushes; the rest wait for the digest."""
    if not alerts:
        return
    people = _recipients(alerts, {a.id: a.route for a in alerts})
    user_ids = {u.id for users in people.values() for u in users}
    _lock_budgets(user_ids)
    pushed = pushes_today(user_ids, now)
    rows = []
    for alert in alerts:
        alert.notified = Alert.Notified.NONE if not people[alert.id] else Alert.Notified.DIGEST
        for user in people[alert.id]:
            if alert.severity == Severity.P1 or pushed.get(user.id, 0) < settings.ALERT_DAILY_PUSH_BUDGET:
                rows.append(_alert_email(alert, user, kind=Kind.PUSH, now=now))
                pushed[user.id] = pushed.get(user.id, 0) + 1
                alert.notified = Alert.Notified.PUSH
        if url := settings.ALERT_WEBHOOK_URLS.get(alert.route):
            rows.append(_alert_webhook(alert, url, kind=Kind.PUSH, now=now))
    # The unique dedupe key: a notification that already exists is not made twice.
    AlertNotification.objects.bulk_create(rows, ignore_conflicts=True)
    # One UPDATE per outcome (three at most), not a CASE per row: the first tick of a big
    # installation opens thousands of alerts at once.
    for state in Alert.Notified.values:
        ids = [a.id for a in alerts if a.notified == state]
        if ids:
            Alert.all_tenants.filter(id__in=ids).update(notified=state)


def alerts_escalated_notify(*, alerts: list[Alert], now: datetime) -> None:
    """An SLA breach always pushes, to everyone in the CS lead queue (and its webhook)."""
    if not alerts:
        return
    leads = _role_members({Route.CS_LEAD})[Route.CS_LEAD]
    rows = [_alert_email(a, lead, kind=Kind.ESCALATION, now=now) for a in alerts for lead in leads]
    if url := settings.ALERT_WEBHOOK_URLS.get(Route.CS_LEAD):
        rows += [_alert_webhook(a, url, kind=Kind.ESCALATION, now=now) for a in alerts]
    AlertNotification.objects.bulk_create(rows, ignore_conflicts=True)


# --- digests -----------------------------------------------------------------------------------


def digests_create(*, now: datetime) -> int:
    """From ALERT_DIGEST_HOUR (CS team time) on: one daily digest per CSM, CS lead and billing
    ops person, and on Mondays one
    weekly digest per CS lead. Nothing to say → a SKIPPED row, so the day is done."""
    from . import selectors as alert_selectors

    local = now.astimezone(ZoneInfo(settings.CS_TEAM_TIMEZONE))
    if local.hour < settings.ALERT_DIGEST_HOUR:
        return 0
    members = _role_members({StaffRole.CSM, StaffRole.CS_LEAD, StaffRole.BILLING_OPS})
    wanted: dict[str, tuple[str, AbstractBaseUser]] = {}
    # Everyone with a queue gets the daily one: alerts the budget held back wait there.
    for user in {u.id: u for users in members.values() for u in users}.values():
        wanted[f"digest:{user.id}:{local.date().isoformat()}"] = (Kind.DIGEST, user)
    if local.weekday() == 0:
        week = alert_selectors.week_of(now - timedelta(days=7))
        for user in members[StaffRole.CS_LEAD]:
            wanted[f"weekly:{user.id}:{week}"] = (Kind.WEEKLY, user)
    existing = set(AlertNotification.objects.filter(dedupe_key__in=list(wanted)).values_list("dedupe_key", flat=True))
    rows, lead_digest = [], None
    for key, (kind, user) in wanted.items():
        if key in existing:
            continue
        if kind == Kind.DIGEST:
            content = alert_selectors.digest_for_csm(user=user, now=now)
            empty = not (content["alerts"] or content["tasks"] or content["bucket_changes"])
            subject = f"Your day: {len(content['alerts'])} open alert(s), {len(content['tasks'])} task(s) due"
        else:
            lead_digest = lead_digest or alert_selectors.digest_for_lead(now=now)
            content, empty = lead_digest, False
            subject = f"Alerts, week {content['week']}: {content['opened']} opened"
        body = render_to_string(
            f"alerts/email/{kind}.txt",
            {**content, "user": user, "queue_url": _url("cockpit:alerts"), "now": now},
        )
        rows.append(
            AlertNotification(
                dedupe_key=key,
                kind=kind,
                channel=AlertNotification.Channel.EMAIL,
                user=user,
                recipient=user.email,
                subject=subject,
                body=body,
                created_at=now,
                due_at=now,
                status=Status.SKIPPED if empty else Status.SCHEDULED,
                reason="nothing open, due or changed" if empty else "",
            )
        )
    AlertNotification.objects.bulk_create(rows, ignore_conflicts=True)
    return sum(r.status == Status.SCHEDULED for r in rows)


# --- sending -----------------------------------------------------------------------------------


@dataclass
class NotifyResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0

    def summary(self) -> str:
        return f"{self.sent} sent, {self.retried} to retry, {self.failed} failed, {self.unknown} left for review"


def _send(notification: AlertNotification, *, session: Any, resolver: webhook_provider.Resolver) -> str:
    if notification.channel == AlertNotification.Channel.WEBHOOK:
        return webhook_provider.webhook_post(
            url=notification.recipient, payload=notification.payload, session=session, resolver=resolver
        )
    return email_provider.email_send(to=notification.recipient, subject=notification.subject, text=notification.body)


def _record_error(n: AlertNotification, exc: ProviderError, now: datetime, result: NotifyResult) -> None:
    if isinstance(exc, RetryableError) and n.attempts < MAX_ATTEMPTS:
        fields = {
            "status": Status.SCHEDULED,
            "due_at": now + retry_at_after(n.attempts),
            "reason": f"retrying after: {exc}"[:500],
        }
        result.retried += 1
    else:
        fields = {"status": Status.FAILED, "reason": str(exc)[:500]}
        result.failed += 1
    AlertNotification.objects.filter(id=n.id, status=Status.SENDING).update(**fields)


def notifications_dispatch(
    *,
    now: datetime,
    batch_size: int = 100,
    limit: int = 2000,
    session: Any = None,
    resolver: webhook_provider.Resolver = webhook_provider.resolve_host,
) -> NotifyResult:
    """Sends due notifications. `session` / `resolver`: the HTTP session and DNS lookup for
    webhooks (requests and the system resolver unless a test hands in its own)."""
    result, handled = NotifyResult(), 0
    while handled < limit:
        with transaction.atomic():
            # SKIP LOCKED: a second worker takes other rows, never these.
            batch = list(
                AlertNotification.objects.filter(status=Status.SCHEDULED, due_at__lte=now)
                .select_for_update(skip_locked=True)
                .order_by("due_at", "id")[:batch_size]
            )
            # A push about an alert resolved since (a retry after a backoff, a slow queue) is
            # news nobody needs: skipped, not sent.
            resolved = set(
                Alert.all_tenants.filter(
                    id__in=[n.alert_id for n in batch if n.alert_id], status=Alert.Status.RESOLVED
                ).values_list("id", flat=True)
            )
            for n in batch:
                if n.alert_id in resolved:
                    n.status, n.reason = Status.SKIPPED, "the alert was resolved before this went out"
                else:
                    n.status, n.claimed_at, n.attempts = Status.SENDING, now, n.attempts + 1
            AlertNotification.objects.bulk_update(batch, ["status", "claimed_at", "attempts", "reason"])
        # Committed: these rows are SENDING before any provider hears of them.
        if not batch:
            break
        handled += len(batch)
        batch = [n for n in batch if n.status == Status.SENDING]
        for n in batch:
            try:
                provider_id = _send(n, session=session, resolver=resolver)
            except ProviderError as exc:
                _record_error(n, exc, now, result)
                continue
            except Exception:
                # Unknown outcome (a timeout after the request left): it stays SENDING and the
                # sweep hands it to a person; a resend could notify twice.
                logger.exception("alert notification %s: send outcome unknown", n.id)
                result.unknown += 1
                continue
            result.sent += AlertNotification.objects.filter(
                id=n.id, status__in=[Status.SENDING, Status.NEEDS_REVIEW]
            ).update(status=Status.SENT, sent_at=now, provider_id=provider_id[:200], reason="")
    return result


def notifications_sweep_stuck(*, now: datetime) -> int:
    """SENDING longer than any provider timeout: interrupted mid-send. Never resent blindly."""
    return AlertNotification.objects.filter(status=Status.SENDING, claimed_at__lt=now - SENDING_TIMEOUT).update(
        status=Status.NEEDS_REVIEW,
        reason="the send was interrupted: it may or may not have gone out",
    )
