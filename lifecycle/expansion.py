"""The expansion pipeline's triggers (seed 004 "expansion opportunity identification", seed
001's upsell moments and triggers): once a UTC day the sweep looks for tenants that

- asked for a feature of a higher tier (`feature.requested`, in the last 7 days),
- were over their plan's limit in each of the last three calendar months,
- are at ≥ 80 % of the plan's limit in the last 30 days (the `expansion_signal` rule's reading),
- have a growing team (distinct users of the last 30 days ≥ 1.5 × the 30 before, and 3 more),
- have been on their plan for EXPANSION_TENURE_DAYS with health ≥ EXPANSION_HEALTHY_SCORE,

and opens one opportunity per tenant — the first trigger in that order names it, the others
are kept in its facts — pointing at the next tier with the MRR it would add. A tenant whose
opportunity closed (won or lost) rests for EXPANSION_COOLDOWN_DAYS: only a feature it asks for
after that opens another. Tenants on the
top tier have no plan to move to and are left out. It also closes as won every live
opportunity whose tenant's plan went up meanwhile (Stripe's webhook moved `Tenant.plan`), with
the MRR that move added: the pipeline and billing's expansion MRR tell the same story.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, Sum
from django.db.models.functions import TruncMonth

from billing.plans import PLANS
from billing.selectors import plan_usage
from core.events import TimelineKind
from health.models import DailyEventUser, DailyRollup, Event
from tenants.models import Tenant, TimelineEntry
from tenants.plans import PLAN_PRICE_CENTS
from tenants.services import timeline_record

from .models import ExpansionSweep, Opportunity

PLAN_ORDER = [plan for plan, _ in Tenant.Plan.choices]
FEATURE_EVENT = "feature.requested"
FEATURE_DAYS = 7
USAGE_PERCENT = 80
OVER_LIMIT_MONTHS = 3
TEAM_DAYS = 30
TEAM_GROWTH_RATIO = 1.5
TEAM_GROWTH_MIN = 3


def next_plan(plan: str) -> str | None:
    index = PLAN_ORDER.index(plan) if plan in PLAN_ORDER else len(PLAN_ORDER)
    return PLAN_ORDER[index + 1] if index + 1 < len(PLAN_ORDER) else None


def plan_rank(plan: str) -> int:
    return PLAN_ORDER.index(plan) if plan in PLAN_ORDER else -1


@dataclass
class Reason:
    trigger: str
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)
    plan: str | None = None  # a higher plan the trigger names itself (a requested feature's)
    asked_at: datetime | None = None  # when the customer asked (a feature request)


def _candidates(now: datetime) -> dict[int, Tenant]:
    """Live tenants below the top tier with no live opportunity."""
    live = Opportunity.all_tenants.filter(tenant_id=OuterRef("pk"), stage__in=Opportunity.LIVE)
    tenants = (
        Tenant.objects.exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .exclude(plan=PLAN_ORDER[-1])
        .exclude(Exists(live))
        .select_related("csm_owner")
    )
    return {t.pk: t for t in tenants}


def _resting(now: datetime) -> dict[int, datetime]:
    """Tenants whose last opportunity closed within the cooldown, and when: asked and answered,
    so the triggers leave them be — but for a feature they ask for after that answer."""
    since = now - timedelta(days=settings.EXPANSION_COOLDOWN_DAYS)
    return dict(
        Opportunity.all_tenants.filter(closed_at__gte=since)
        .values("tenant_id")
        .annotate(last=Max("closed_at"))
        .values_list("tenant_id", "last")
        .order_by()
    )


def _still_asking(reason: Reason, closed_at: datetime | None) -> bool:
    if closed_at is None:
        return True
    return reason.asked_at is not None and reason.asked_at > closed_at


def _feature_requests(ids: set[int], now: datetime) -> dict[int, Reason]:
    since = now - timedelta(days=FEATURE_DAYS)
    # The rollups' (name, tenant, day) index finds the few tenants that asked; their events
    # are then read through the (tenant, occurred_at) index.
    asked = set(
        DailyRollup.all_tenants.filter(name=FEATURE_EVENT, day__gte=since.date(), tenant_id__in=ids).values_list(
            "tenant_id", flat=True
        )
    )
    found: dict[int, Reason] = {}
    events = Event.all_tenants.filter(tenant_id__in=asked, name=FEATURE_EVENT, occurred_at__gte=since)
    for event in events.order_by("occurred_at"):
        feature = str(event.properties.get("feature") or "a feature")[:80]
        plan = event.properties.get("plan")
        found[event.tenant_id] = Reason(
            Opportunity.Trigger.FEATURE_REQUESTED,
            f"Asked for {feature} on {event.occurred_at:%-d %b}"
            + (f" ({PLANS[plan].name} plan)" if plan in PLANS else ""),
            {"feature": feature, "asked_at": event.occurred_at.isoformat()},
            plan if plan in PLANS else None,
            event.occurred_at,
        )
    return found


def _month_start(day: date, back: int) -> date:
    months = day.year * 12 + day.month - 1 - back
    return date(months // 12, months % 12 + 1, 1)


def _over_limit(ids: set[int], plans: dict[int, str], today: date) -> dict[int, Reason]:
    limits = {key: plan.monthly_limit for key, plan in PLANS.items() if plan.monthly_limit}
    first, this_month = _month_start(today, OVER_LIMIT_MONTHS), _month_start(today, 0)
    rows = (
        DailyRollup.all_tenants.filter(
            name=settings.BILLING_USAGE_EVENT, day__gte=first, day__lt=this_month, tenant_id__in=ids
        )
        .annotate(month=TruncMonth("day"))
        .values("tenant_id", "month")
        .annotate(used=Sum("count"))
        .order_by()
    )
    months: dict[int, list[int]] = {}
    for row in rows:
        limit = limits.get(plans[row["tenant_id"]])
        if limit and row["used"] > limit:
            months.setdefault(row["tenant_id"], []).append(row["used"])
    return {
        tenant_id: Reason(
            Opportunity.Trigger.OVER_LIMIT,
            f"Over the {PLANS[plans[tenant_id]].name} limit of {limits[plans[tenant_id]]:,} "
            f"{settings.BILLING_USAGE_EVENT} in each of the last {OVER_LIMIT_MONTHS} months",
            {"monthly_usage": sorted(used), "limit": limits[plans[tenant_id]]},
        )
        for tenant_id, used in months.items()
        if len(used) == OVER_LIMIT_MONTHS
    }


def _near_limit(ids: set[int], now: datetime) -> dict[int, Reason]:
    return {
        tenant_id: Reason(
            Opportunity.Trigger.USAGE_LIMIT,
            f"{usage.used:,} of {usage.limit:,} {settings.BILLING_USAGE_EVENT} in {usage.days} days "
            f"({usage.percent:.0f} % of the {PLANS[usage.plan].name} plan)",
            {"used": usage.used, "limit": usage.limit, "percent": round(usage.percent, 1)},
        )
        for tenant_id, usage in plan_usage(tenant_ids=ids, now=now).items()
        if usage.percent >= USAGE_PERCENT
    }


def _team_growth(ids: set[int], today: date) -> dict[int, Reason]:
    split = today - timedelta(days=TEAM_DAYS - 1)  # the recent window is [split, today]
    rows = (
        DailyEventUser.all_tenants.filter(tenant_id__in=ids, day__gte=split - timedelta(days=TEAM_DAYS), day__lte=today)
        .values("tenant_id")
        .annotate(
            recent=Count("user_id", filter=Q(day__gte=split), distinct=True),
            before=Count("user_id", filter=Q(day__lt=split), distinct=True),
        )
        .order_by()
    )
    return {
        row["tenant_id"]: Reason(
            Opportunity.Trigger.TEAM_GROWTH,
            f"{row['recent']} people used it in the last {TEAM_DAYS} days, up from {row['before']}",
            {"users_recent": row["recent"], "users_before": row["before"]},
        )
        for row in rows
        # Growth from nobody is onboarding, not expansion.
        if row["before"]
        and row["recent"] >= row["before"] * TEAM_GROWTH_RATIO
        and row["recent"] - row["before"] >= TEAM_GROWTH_MIN
    }


def _healthy_on_plan(tenants: dict[int, Tenant], now: datetime) -> dict[int, Reason]:
    """On the current plan since signup or its last plan change, for the tenure, and healthy."""
    score = settings.EXPANSION_HEALTHY_SCORE
    healthy = [t.pk for t in tenants.values() if t.health_score is not None and t.health_score >= score]
    changed = dict(
        TimelineEntry.all_tenants.filter(tenant_id__in=healthy, kind=TimelineKind.BILLING_PLAN)
        .values("tenant_id")
        .annotate(at=Max("at"))
        .values_list("tenant_id", "at")
        .order_by()
    )
    found: dict[int, Reason] = {}
    for tenant_id in healthy:
        tenant = tenants[tenant_id]
        since = max(tenant.signed_up_at, changed.get(tenant_id, tenant.signed_up_at))
        days = (now - since).days
        if days >= settings.EXPANSION_TENURE_DAYS:
            found[tenant_id] = Reason(
                Opportunity.Trigger.TENURE_HEALTHY,
                f"Health {tenant.health_score:.0f} after {days} days on {PLANS[tenant.plan].name}",
                {"health_score": tenant.health_score, "days_on_plan": days},
            )
    return found


def _open(*, tenant: Tenant, reasons: list[Reason], now: datetime) -> bool:
    first = reasons[0]
    suggested = first.plan if first.plan and plan_rank(first.plan) > plan_rank(tenant.plan) else next_plan(tenant.plan)
    if suggested is None:
        return False
    try:
        with transaction.atomic():
            # The partial unique constraint (one live per tenant) is the guard: a second sweep
            # (a second beat, a retried task) that got here too fails its INSERT and opens nothing.
            opportunity = Opportunity.objects.create(
                tenant=tenant,
                trigger=first.trigger,
                detail=first.detail[:300],
                facts={"reasons": [{"trigger": r.trigger, "detail": r.detail, **r.facts} for r in reasons]},
                from_plan=tenant.plan,
                suggested_plan=suggested,
                mrr_delta_cents=PLAN_PRICE_CENTS[suggested] - PLAN_PRICE_CENTS[tenant.plan],
                owner=tenant.csm_owner,
                opened_at=now,
                stage_changed_at=now,
            )
            timeline_record(
                tenant=tenant,
                at=now,
                kind=TimelineKind.EXPANSION_OPENED,
                summary=f"Expansion opportunity: {first.detail[:200]} → {PLANS[suggested].name}",
                data={"opportunity": opportunity.pk, "trigger": first.trigger, "suggested_plan": suggested},
            )
    except IntegrityError:
        return False
    return True


def opportunities_won_by_plan_change(*, now: datetime) -> int:
    """Live opportunities whose tenant's plan went up since they opened close as won, with the
    MRR the move added (its list prices: what billing's expansion MRR counts)."""
    won = 0
    live = Opportunity.all_tenants.filter(stage__in=Opportunity.LIVE).select_related("tenant")
    for opportunity in live:
        tenant = opportunity.tenant
        if plan_rank(tenant.plan) <= plan_rank(opportunity.from_plan):
            continue
        with transaction.atomic():
            # Locked and re-read: a CSM closing it by hand at this moment wins or loses first.
            locked = Opportunity.all_tenants.select_for_update().get(pk=opportunity.pk)
            if locked.stage not in Opportunity.LIVE:
                continue
            delta = PLAN_PRICE_CENTS[tenant.plan] - PLAN_PRICE_CENTS[locked.from_plan]
            Opportunity.all_tenants.filter(pk=locked.pk).update(
                stage=Opportunity.Stage.WON,
                won_mrr_cents=delta,
                stage_changed_at=now,
                closed_at=now,
                note="The plan changed in Stripe.",
            )
            timeline_record(
                tenant=tenant,
                at=now,
                kind=TimelineKind.EXPANSION_STAGE,
                summary=f"Expansion won: moved to {PLANS[tenant.plan].name} (+${delta / 100:,.0f} MRR)",
                data={"opportunity": locked.pk, "stage": "won", "won_mrr_cents": delta},
            )
        won += 1
    return won


def expansion_sweep(*, now: datetime) -> tuple[int, int] | None:
    """Once a UTC day: opens the day's opportunities and closes those won by a plan change.
    None when the day's sweep already ran.

    One transaction: the day's row is the claim, and a sweep that dies half-way rolls its claim
    back with its work, so the next tick sweeps the day again. A second sweep at the same time
    waits on the row's unique index until the first commits, then finds the day taken."""
    if ExpansionSweep.objects.filter(day=now.date()).exists():
        return None  # the day's sweep ran (cheap; the INSERT below is the real guard)
    with transaction.atomic():
        try:
            with transaction.atomic():
                sweep = ExpansionSweep.objects.create(day=now.date(), started_at=now)
        except IntegrityError:
            return None
        return _sweep(sweep, now)


def _sweep(sweep: ExpansionSweep, now: datetime) -> tuple[int, int]:
    won = opportunities_won_by_plan_change(now=now)
    tenants = _candidates(now)
    ids = set(tenants)
    plans = {pk: t.plan for pk, t in tenants.items()}
    found: dict[int, list[Reason]] = {}
    for reasons in (
        _feature_requests(ids, now),
        _over_limit(ids, plans, now.date()),
        _near_limit(ids, now),
        _team_growth(ids, now.date()),
        _healthy_on_plan(tenants, now),
    ):
        for tenant_id, reason in reasons.items():
            found.setdefault(tenant_id, []).append(reason)
    resting = _resting(now)
    opened = 0
    for tenant_id in sorted(found):
        reasons = [r for r in found[tenant_id] if _still_asking(r, resting.get(tenant_id))]
        if reasons:
            opened += _open(tenant=tenants[tenant_id], reasons=reasons, now=now)
    ExpansionSweep.objects.filter(pk=sweep.pk).update(opened=opened, won=won)
    return opened, won
