"""Revenue figures for the cockpit: MRR now, how it moved month by month, and how past-due
episodes end. Reads only.

Only subscriptions with a tenant count: an unmatched one is money we cannot yet attribute,
and billing ops fix the match first. "Now" comes from the mirror rows (already the fold of
history); the past comes from folding `SubscriptionChange` with `history`, the same fold the
mirror uses, so the current month's end and the summary agree. Months are calendar months
in UTC.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from tenants.models import HealthBucket, Tenant

from . import history
from .models import PAST_DUE_STATUSES, Subscription, SubscriptionChange, SubscriptionStatus
from .selectors import in_past_due_queue

AT_RISK_BUCKETS = (HealthBucket.AT_RISK, HealthBucket.CRITICAL)
LATE_RECOVERY_DAYS = 14  # Churn Buster: up to 42 % of failed-payment recovery happens after day 14


# --- now -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevenueSummary:
    as_of: datetime
    mrr_cents: int
    arr_cents: int
    mrr_at_risk_cents: int  # unhealthy tenant or past due, each subscription once
    paying: int
    trialing: int
    past_due: int  # rows of the past-due queue (a churned tenant's subscription is not one)
    past_due_mrr_cents: int


def _mrr_at_risk() -> Q:
    """Subscriptions whose MRR is at risk: the tenant's health is at risk or critical, or the
    subscription is past due. One definition for the revenue page and the home's tiles."""
    return Q(tenant__health_bucket__in=AT_RISK_BUCKETS) | Q(status__in=PAST_DUE_STATUSES)


def book_mrr(*, tenants: QuerySet[Tenant]) -> tuple[int, int]:
    """MRR (cents) of a set of tenants (a CSM's book) and how much of it is at risk, in one
    aggregate query, by the revenue page's definitions."""
    totals = Subscription.all_tenants.filter(tenant__in=tenants).aggregate(
        mrr=Coalesce(Sum("mrr_cents"), 0), at_risk=Coalesce(Sum("mrr_cents", filter=_mrr_at_risk()), 0)
    )
    return totals["mrr"], totals["at_risk"]


def revenue_summary(*, now: datetime) -> RevenueSummary:
    """MRR and its risk from the mirror, in one aggregate query. A subscription joins one
    tenant, so the OR in the at-risk filter cannot count it twice."""
    at_risk = _mrr_at_risk()
    # The "Past due" tile counts the past-due queue's rows (a churned tenant's is not one).
    in_queue = in_past_due_queue()
    totals = Subscription.all_tenants.filter(tenant__isnull=False).aggregate(
        mrr=Coalesce(Sum("mrr_cents"), 0),
        at_risk=Coalesce(Sum("mrr_cents", filter=at_risk), 0),
        paying=Count("id", filter=Q(mrr_cents__gt=0)),
        trialing=Count("id", filter=Q(status=SubscriptionStatus.TRIALING)),
        past_due=Count("id", filter=in_queue),
        past_due_mrr=Coalesce(Sum("mrr_cents", filter=in_queue), 0),
    )
    return RevenueSummary(
        as_of=now,
        mrr_cents=totals["mrr"],
        arr_cents=12 * totals["mrr"],
        mrr_at_risk_cents=totals["at_risk"],
        paying=totals["paying"],
        trialing=totals["trialing"],
        past_due=totals["past_due"],
        past_due_mrr_cents=totals["past_due_mrr"],
    )


# --- history -------------------------------------------------------------------------------


def _histories(*, now: datetime) -> dict[int, tuple[int, list[SubscriptionChange]]]:
    """Every tenant subscription's changes up to `now`, in one query: {subscription id:
    (tenant id, changes)}. The event payload is deferred; the fold needs only its id."""
    changes = (
        SubscriptionChange.objects.filter(subscription__tenant__isnull=False, at__lte=now)
        .select_related("event")
        .defer("event__payload")
        .annotate(tenant_ref=F("subscription__tenant_id"))
        .order_by("subscription_id", "at", "id")
    )
    found: dict[int, tuple[int, list[SubscriptionChange]]] = {}
    for change in changes:
        found.setdefault(change.subscription_id, (change.tenant_ref, []))[1].append(change)
    return found


@dataclass(frozen=True)
class _Timeline:
    """One subscription's MRR as a step function: MRR `mrr[i]` from `at[i]` on."""

    at: list[datetime]
    mrr: list[int]

    def mrr_before(self, instant: datetime) -> int:
        i = bisect_left(self.at, instant)
        return self.mrr[i - 1] if i else 0

    def mrr_at(self, instant: datetime) -> int:
        i = bisect_right(self.at, instant)
        return self.mrr[i - 1] if i else 0


def _timeline(changes: Iterable[SubscriptionChange]) -> _Timeline:
    folded = list(history.states(changes))
    return _Timeline(at=[s.at for s in folded], mrr=[s.mrr_cents for s in folded])


def tenants_mrr_then_and_now(*, starts: dict[int, datetime], now: datetime) -> dict[int, tuple[int, int]]:
    """Each tenant's MRR (all its subscriptions) at its own instant in `starts` and now, from
    the same history the monthly figures fold: the cohorts' net revenue retention."""
    found: dict[int, tuple[int, int]] = {}
    for tenant_id, changes in _histories(now=now).values():
        if tenant_id not in starts:
            continue
        timeline = _timeline(changes)
        then, current = found.get(tenant_id, (0, 0))
        found[tenant_id] = (then + timeline.mrr_at(starts[tenant_id]), current + timeline.mrr_at(now))
    return found


# --- months --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthRow:
    month: date
    start_mrr_cents: int
    new_cents: int
    expansion_cents: int
    contraction_cents: int
    churned_cents: int
    end_mrr_cents: int

    @property
    def grr(self) -> float | None:
        """Gross revenue retention: what the month kept of its starting MRR, upgrades aside."""
        if not self.start_mrr_cents:
            return None
        return (self.start_mrr_cents - self.contraction_cents - self.churned_cents) / self.start_mrr_cents

    @property
    def nrr(self) -> float | None:
        if not self.start_mrr_cents:
            return None
        kept = self.start_mrr_cents + self.expansion_cents - self.contraction_cents - self.churned_cents
        return kept / self.start_mrr_cents


def _month_starts(*, now: datetime, months: int) -> list[datetime]:
    """The 1st (00:00 UTC) of the last `months` calendar months, oldest first."""
    current = now.astimezone(UTC)
    year, month = current.year, current.month
    starts = []
    for _ in range(months):
        starts.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _month_row(month: date, start: dict[int, int], end: dict[int, int]) -> MonthRow:
    """Movements between two per-tenant MRR snapshots. Per tenant, not per subscription: a
    tenant that swaps one subscription for a bigger one expanded; it did not churn and return."""
    new = expansion = contraction = churned = 0
    for tenant_id in start.keys() | end.keys():
        before, after = start.get(tenant_id, 0), end.get(tenant_id, 0)
        if before == 0:
            new += after
        elif after == 0:
            churned += before
        elif after > before:
            expansion += after - before
        else:
            contraction += before - after
    return MonthRow(
        month=month,
        start_mrr_cents=sum(start.values()),
        new_cents=new,
        expansion_cents=expansion,
        contraction_cents=contraction,
        churned_cents=churned,
        end_mrr_cents=sum(end.values()),
    )


def revenue_months(*, now: datetime, months: int = 12) -> list[MonthRow]:
    """The MRR bridge of the last `months` calendar months, the current one ending at `now`.
    A month's start is everything before its 1st, 00:00 UTC (so a change at exactly midnight
    belongs to the new month); each month's start is the previous month's end, which is what
    makes start + new + expansion − contraction − churned = end hold row after row."""
    by_tenant: dict[int, list[_Timeline]] = defaultdict(list)
    for tenant_id, changes in _histories(now=now).values():
        by_tenant[tenant_id].append(_timeline(changes))

    def snapshot(instant: datetime, *, inclusive: bool) -> dict[int, int]:
        return {
            tenant_id: sum(t.mrr_at(instant) if inclusive else t.mrr_before(instant) for t in timelines)
            for tenant_id, timelines in by_tenant.items()
        }

    starts = _month_starts(now=now, months=months)
    snapshots = [snapshot(s, inclusive=False) for s in starts] + [snapshot(now, inclusive=True)]
    return [_month_row(s.date(), snapshots[i], snapshots[i + 1]) for i, s in enumerate(starts)]


# --- past-due recovery ---------------------------------------------------------------------


@dataclass(frozen=True)
class RecoveryHorizon:
    days: int
    eligible: int  # episodes that began at least `days` ago: their outcome by day N is known
    recovered: int  # of those, recovered within `days`

    @property
    def rate(self) -> float | None:
        return self.recovered / self.eligible if self.eligible else None


@dataclass(frozen=True)
class RecoveryReport:
    episodes: int
    open: int
    recovered: int
    canceled: int
    recovered_after_day_14: int
    horizons: tuple[RecoveryHorizon, ...]

    @property
    def late_share(self) -> float | None:
        """The share of recoveries that came after day 14: what a dunning run that stops at
        two weeks would have given up on."""
        return self.recovered_after_day_14 / self.recovered if self.recovered else None


def _horizon(episodes: Sequence[history.Episode], days: int, now: datetime) -> RecoveryHorizon:
    window = timedelta(days=days)
    eligible = [e for e in episodes if e.started_at <= now - window]
    recovered = [e for e in eligible if e.outcome == "recovered" and e.ended_at - e.started_at <= window]
    return RecoveryHorizon(days=days, eligible=len(eligible), recovered=len(recovered))


def recovery_report(*, now: datetime, horizons: Sequence[int] = (7, 14, 30, 60)) -> RecoveryReport:
    """How past-due episodes of tenant subscriptions ended, as known at `now`: totals, and per
    horizon N the share recovered within N days among episodes old enough to tell. The
    horizons past 14 days are the point: late recoveries are real money."""
    found = [e for _, changes in _histories(now=now).values() for e in history.episodes(changes)]
    recovered = [e for e in found if e.outcome == "recovered"]
    late = timedelta(days=LATE_RECOVERY_DAYS)
    return RecoveryReport(
        episodes=len(found),
        open=sum(1 for e in found if e.ended_at is None),
        recovered=len(recovered),
        canceled=sum(1 for e in found if e.outcome == "canceled"),
        recovered_after_day_14=sum(1 for e in recovered if e.ended_at - e.started_at > late),
        horizons=tuple(_horizon(found, days, now) for days in horizons),
    )
