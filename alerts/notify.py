"""Alert notifications: who hears of an alert and how, within each person's attention budget,
and the daily and weekly digests. Every one is a messaging.Message enqueued in the
transaction that opened or escalated the alert (unique dedupe key: a second tick makes no
second row); the outbox sends it once. A push about an alert resolved before it went out is
skipped at send time (alert_messages_still_news, registered in AlertsConfig.ready).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.db.models import Count
from django.template.loader import render_to_string
from django.urls import reverse

from core.roles import StaffRole
from core.teamday import team_day_start
from messaging.models import Message
from messaging.outbox import messages_enqueue
from messaging.retry import advisory_locks
from messaging.webhook import slack_escape

from .models import Alert, Route, Severity

logger = logging.getLogger(__name__)
Status = Message.Status


class Kind(models.TextChoices):
    """What an alert message is (its Message.purpose is “alert.<kind>”)."""

    PUSH = "push", "Alert opened"
    ESCALATION = "escalation", "SLA breached"
    DIGEST = "digest", "Daily digest"
    WEEKLY = "weekly", "Weekly digest"


def purpose(kind: str) -> str:
    return f"alert.{kind}"


INTERRUPTIVE = [purpose(Kind.PUSH), purpose(Kind.ESCALATION)]
BUDGET_LOCK_NAMESPACE = 7_306  # pg_advisory_xact_lock(namespace, user id): the budget's lock


def _url(name: str, *args: Any, query: str = "") -> str:
    return settings.SITE_URL + reverse(name, args=args) + (f"?{query}" if query else "")


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
        Message.objects.filter(user_id__in=user_ids, purpose__in=INTERRUPTIVE, channel=Message.Channel.EMAIL)
        .filter(created_at__gte=team_day_start(now))
        .values("user_id")
        .annotate(n=Count("id"))
    )
    return {row["user_id"]: row["n"] for row in rows}


def _alert_email(alert: Alert, user: AbstractBaseUser, *, kind: str, now: datetime) -> Message:
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
    return Message(
        dedupe_key=f"alert:{alert.id}:{kind}:email:{user.id}",
        purpose=purpose(kind),
        topic=f"alert:{alert.id}",
        channel=Message.Channel.EMAIL,
        tenant_id=alert.tenant_id,
        user=user,
        recipient=user.email,
        subject=" ".join(subject.split())[:300],
        body=body,
        created_at=now,
        due_at=now,
    )


def _alert_webhook(alert: Alert, url: str, *, kind: str, now: datetime) -> Message:
    tenant = alert.tenant
    link = _url("cockpit:tenant-detail", tenant.external_id)
    headline = "SLA breached, escalated to the CS lead" if kind == Kind.ESCALATION else "Alert opened"
    text = (
        f"*{alert.severity} · {alert.rule.slug}* — {headline}\n"
        f"{slack_escape(alert.rationale)}\n<{link}|{slack_escape(tenant.name)} in the cockpit>"
    )
    return Message(
        dedupe_key=f"alert:{alert.id}:{kind}:webhook:{alert.route}",
        purpose=purpose(kind),
        topic=f"alert:{alert.id}",
        channel=Message.Channel.WEBHOOK,
        tenant_id=alert.tenant_id,
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
    messages_enqueue(rows)
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
    messages_enqueue(rows)


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
    existing = set(Message.objects.filter(dedupe_key__in=list(wanted)).values_list("dedupe_key", flat=True))
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
            Message(
                dedupe_key=key,
                purpose=purpose(kind),
                channel=Message.Channel.EMAIL,
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
    messages_enqueue(rows)
    return sum(r.status == Status.SCHEDULED for r in rows)


def alert_messages_still_news(messages: list[Message], now: datetime) -> dict[int, str]:
    """The outbox's send check for alert messages: a push about an alert resolved since (a
    retry after a back-off, a slow queue) is news nobody needs — skipped, not sent."""
    alert_ids = {int(m.topic.split(":")[1]) for m in messages if m.topic.startswith("alert:")}
    if not alert_ids:
        return {}
    resolved = set(
        Alert.all_tenants.filter(id__in=alert_ids, status=Alert.Status.RESOLVED).values_list("id", flat=True)
    )
    return {
        m.id: "the alert was resolved before this went out"
        for m in messages
        if m.topic.startswith("alert:") and int(m.topic.split(":")[1]) in resolved
    }
