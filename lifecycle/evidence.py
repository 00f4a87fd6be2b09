"""The weekly evidence email (issue 16 §9, seed 002's operating cadence): on Monday from
ALERT_DIGEST_HOUR (CS team time), every CSM gets last week's evidence for their book and every
CS lead for the whole team — health moves and recoveries, alerts opened and resolved,
touchpoints sent, renewals coming, expansion opened and won — through the one outbox, once
per person and week (the dedupe key)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse

from alerts.models import Alert
from core.events import TimelineKind
from core.roles import StaffRole
from messaging.models import Message
from messaging.outbox import messages_enqueue
from playbooks.selectors import touchpoints_for_staff
from tenants.models import HealthBucket, Tenant, TimelineEntry
from tenants.selectors import tenants_renewing_within

from .models import Opportunity

PURPOSE = "lifecycle.evidence"
RENEWALS_WITHIN = 30


@dataclass
class Evidence:
    week: str
    start: datetime
    end: datetime
    scope: str  # "your book" or "the team"
    tenants: int
    worse: list[TimelineEntry] = field(default_factory=list)  # moved to at risk or critical
    recovered: list[TimelineEntry] = field(default_factory=list)  # moved to healthy
    alerts_opened: int = 0
    alerts_resolved: int = 0
    touchpoints_sent: int = 0
    renewals: list[Tenant] = field(default_factory=list)
    opportunities_opened: int = 0
    won: list[Opportunity] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.worse
            or self.recovered
            or self.alerts_opened
            or self.alerts_resolved
            or self.touchpoints_sent
            or self.renewals
            or self.opportunities_opened
            or self.won
        )


def _book(csm: AbstractBaseUser | None) -> QuerySet[Tenant]:
    tenants = Tenant.objects.exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
    return tenants.filter(csm_owner=csm) if csm is not None else tenants


def evidence_for(*, csm: AbstractBaseUser | None, start: datetime, end: datetime, week: str) -> Evidence:
    """Last week's evidence for one CSM's book (None: the whole team)."""
    book = _book(csm)
    ids = book.values("id")
    moves = (
        TimelineEntry.all_tenants.filter(
            tenant_id__in=ids, kind=TimelineKind.HEALTH_BUCKET_CHANGED, at__gte=start, at__lt=end
        )
        .select_related("tenant")
        .order_by("at")
    )
    worse = [m for m in moves if m.data.get("to") in (HealthBucket.AT_RISK, HealthBucket.CRITICAL)]
    recovered = [m for m in moves if m.data.get("to") == HealthBucket.HEALTHY]
    alerts = Alert.all_tenants.filter(tenant_id__in=ids)
    opportunities = Opportunity.all_tenants.filter(tenant_id__in=ids)
    return Evidence(
        week=week,
        start=start,
        end=end,
        scope="your book" if csm is not None else "the team",
        tenants=book.count(),
        worse=worse,
        recovered=recovered,
        alerts_opened=alerts.filter(opened_at__gte=start, opened_at__lt=end).count(),
        alerts_resolved=alerts.filter(resolved_at__gte=start, resolved_at__lt=end).count(),
        touchpoints_sent=touchpoints_for_staff(
            outcome="sent", since=start, until=end, csm=str(csm.pk) if csm is not None else ""
        ).count(),
        renewals=list(tenants_renewing_within(book, RENEWALS_WITHIN, today=end.date()).order_by("contract_ends_on")),
        opportunities_opened=opportunities.filter(opened_at__gte=start, opened_at__lt=end).count(),
        won=list(
            opportunities.filter(stage=Opportunity.Stage.WON, closed_at__gte=start, closed_at__lt=end).select_related(
                "tenant"
            )
        ),
    )


def _last_week(now: datetime) -> tuple[datetime, datetime, str]:
    """Monday 00:00 to Monday 00:00 (CS team time) of the week before `now`'s."""
    zone = ZoneInfo(settings.CS_TEAM_TIMEZONE)
    local = now.astimezone(zone)
    this_monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    start = this_monday - timedelta(days=7)
    year, number, _ = start.isocalendar()
    return start, this_monday, f"{year}-W{number:02d}"


def evidence_emails_send(*, now: datetime) -> int:
    """Monday's emails, from ALERT_DIGEST_HOUR on; a person already written to this week (the
    dedupe key) is not written again, and a week with nothing in it is a skipped row."""
    local = now.astimezone(ZoneInfo(settings.CS_TEAM_TIMEZONE))
    if local.weekday() != 0 or local.hour < settings.ALERT_DIGEST_HOUR:
        return 0
    start, end, week = _last_week(now)
    people = (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[StaffRole.CSM, StaffRole.CS_LEAD])
        .exclude(email="")
        .prefetch_related("groups")
        .distinct()
        .order_by("id")
    )
    wanted = {f"evidence:{user.pk}:{week}": user for user in people}
    existing = set(Message.objects.filter(dedupe_key__in=list(wanted)).values_list("dedupe_key", flat=True))
    rows, team = [], None
    for key, user in wanted.items():
        if key in existing:
            continue
        groups = {g.name for g in user.groups.all()}
        if StaffRole.CS_LEAD in groups:
            team = team or evidence_for(csm=None, start=start, end=end, week=week)
            evidence = team
        else:
            evidence = evidence_for(csm=user, start=start, end=end, week=week)
        body = render_to_string(
            "lifecycle/email/evidence.txt",
            {
                "e": evidence,
                "user": user,
                "dashboard_url": settings.SITE_URL.rstrip("/") + reverse("cockpit:weekly") + f"?week={week}",
            },
        )
        rows.append(
            Message(
                dedupe_key=key,
                purpose=PURPOSE,
                channel=Message.Channel.EMAIL,
                user=user,
                recipient=user.email,
                subject=f"Week {week} for {evidence.scope}: {len(evidence.recovered)} recovered, "
                f"{len(evidence.worse)} at risk, {len(evidence.renewals)} renewal(s) within {RENEWALS_WITHIN} days",
                body=body,
                created_at=now,
                due_at=now,
                status=Message.Status.SKIPPED if evidence.empty else Message.Status.SCHEDULED,
                reason="nothing happened in the week" if evidence.empty else "",
            )
        )
    messages_enqueue(rows)
    return sum(row.status == Message.Status.SCHEDULED for row in rows)
