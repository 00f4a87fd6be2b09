"""The renewal health pack (seed 002, "Renewal Defense": the 120-day start): one printable page
per tenant with what a renewal conversation needs — the contract, usage and outcomes by
month, the health trend and its reasons, incidents, support history, what customers said
(NPS, CSAT), the expansion pipeline and where the runway stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Sum

from alerts.selectors import incidents_of
from billing.models import Subscription
from billing.selectors import subscription_for_tenant
from core.charts import Sparkline, sparkline
from health.models import DailyRollup, Event, HealthScore
from health.selectors import MonthUsage, SupportSummary, latest_score, monthly_usage, score_history, support_summary
from onboarding.models import TenantOnboarding
from playbooks.models import Task
from tenants.models import Tenant

from .models import Opportunity, RenewalStep
from .renewals import RUNWAY, window

YEAR = timedelta(days=365)


@dataclass(frozen=True)
class RunwayRow:
    days_before: int
    title: str
    due_on: date | None  # the step's day, for the current contract end
    task: Task | None
    waiting: str  # without a task: why ("not yet", due now, skipped)


@dataclass
class RenewalPack:
    tenant: Tenant
    now: datetime
    subscription: Subscription | None
    days_left: int | None
    score: HealthScore | None
    trend: Sparkline | None
    usage: list[MonthUsage]
    key_event: str
    incidents: list[dict[str, Any]]
    support: SupportSummary
    csat: float | None
    csat_count: int
    nps: list[tuple[datetime, float, str]]
    opportunities: list[Opportunity]
    runway: list[RunwayRow]
    onboarding: TenantOnboarding | None

    @property
    def key_events_total(self) -> int:
        return sum(month.key_events for month in self.usage)


def _runway(tenant: Tenant, today: date) -> list[RunwayRow]:
    ends = tenant.contract_ends_on
    made = {}
    if ends is not None:
        made = {
            step.days_before: step.task
            for step in RenewalStep.objects.for_tenant(tenant).filter(contract_ends_on=ends).select_related("task")
        }
    days_left = (ends - today).days if ends else None
    rows = []
    for index, step in enumerate(RUNWAY):
        low, high = window(index)
        if ends is None or days_left is None:
            waiting = ""
        elif days_left > high:
            waiting = "Not yet"
        elif low < days_left:
            waiting = "Due now: the next tick makes its task"
        else:
            waiting = "Skipped: the date was set after this step's window"
        due_on = ends - timedelta(days=step.days_before) if ends else None
        rows.append(
            RunwayRow(
                step.days_before, step.title.format(name=tenant.name), due_on, made.get(step.days_before), waiting
            )
        )
    return rows


def renewal_pack(*, tenant: Tenant, now: datetime) -> RenewalPack:
    since = now - YEAR
    history = list(score_history(tenant=tenant, since=(now - timedelta(days=180)).date()).values_list("day", "score"))
    answers = Event.objects.for_tenant(tenant).filter(occurred_at__gte=since, occurred_at__lte=now)
    # The monthly report's CSAT: the rollups' sums of the answers' scores.
    csat = (
        DailyRollup.objects.for_tenant(tenant)
        .filter(name="csat.submitted", day__gte=since.date())
        .aggregate(total=Sum("value_sum"), n=Sum("value_count"))
    )
    nps = [
        (e.occurred_at, float(e.properties["score"]), str(e.properties.get("comment", ""))[:200])
        for e in answers.filter(name="nps.submitted").order_by("-occurred_at")[:10]
        if isinstance(e.properties.get("score"), (int, float))
    ]
    key_event = settings.HEALTH_KEY_EVENTS_BY_SEGMENT.get(tenant.segment, settings.HEALTH_KEY_EVENT)
    return RenewalPack(
        tenant=tenant,
        now=now,
        subscription=subscription_for_tenant(tenant=tenant),
        days_left=(tenant.contract_ends_on - now.date()).days if tenant.contract_ends_on else None,
        score=latest_score(tenant=tenant),
        trend=sparkline(history),
        # From the signup month on: months before it are not a customer's zeros.
        usage=[
            month
            for month in monthly_usage(tenant=tenant, months=12, today=now.date(), key_event=key_event)
            if month.month >= tenant.signed_up_at.date().replace(day=1)
        ],
        key_event=key_event,
        incidents=incidents_of(tenant=tenant, since=since),
        support=support_summary(tenant=tenant, targets=settings.SUPPORT_SLA_HOURS.get(tenant.plan, (4, 24)), now=now),
        csat=round(csat["total"] / csat["n"], 2) if csat["n"] else None,
        csat_count=csat["n"] or 0,
        nps=nps,
        opportunities=list(Opportunity.objects.for_tenant(tenant).order_by("-opened_at")[:5]),
        runway=_runway(tenant, now.date()),
        onboarding=TenantOnboarding.objects.for_tenant(tenant).first(),
    )
