"""Turning rollups into scores: one aggregate query for a whole set of tenants, then pure
arithmetic per tenant (no query per tenant). Used by the tick, the full recompute and the
back-test alike, always as of a given moment."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from itertools import pairwise
from operator import and_
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum

from tenants.models import Tenant

from .components import KEY_EVENT_DAYS, NON_USAGE_PREFIXES, SIGNALS, TEAM_DAYS, Facts
from .models import DailyEventUser, DailyRollup, HealthModel

WINDOW_DAYS = 90  # the longest look-back of any signal (sentiment, QA score)
ZERO_FACTS: dict[str, float] = {
    "active_days_7": 0,
    "usage_7": 0,
    "trend_this_week": 0,
    "trend_last_week": 0,
    "breadth_14": 0,
    "errors_7": 0,
    "tickets_created_30": 0,
    "tickets_resolved_30": 0,
    "ticket_days_90": 0,
    "nps_sum": 0.0,
    "nps_n": 0,
    "csat_sum": 0.0,
    "csat_n": 0,
    "qa_sum": 0.0,
    "qa_n": 0,
    "feature_requests_90": 0,
}


def as_of_day(as_of: datetime) -> date:
    return as_of.astimezone(UTC).date()


def _aggregates(day: date) -> dict[str, Any]:
    usage = reduce(and_, [~Q(name__startswith=prefix) for prefix in NON_USAGE_PREFIXES])
    last_7, last_14, last_30 = (
        Q(day__gt=day - timedelta(7)),
        Q(day__gt=day - timedelta(14)),
        Q(day__gt=day - timedelta(30)),
    )
    # Today is a partial day. Activity counts it (so a new event shows within a tick) on top of
    # the 7 days before it, capped at 7 in the signal; the week-over-week trend compares the
    # last two complete weeks, so a score does not swing between 00:05 and 23:59.
    active_window = Q(day__gt=day - timedelta(8))
    complete_week = Q(day__gt=day - timedelta(8), day__lte=day - timedelta(1))
    previous_week = Q(day__gt=day - timedelta(15), day__lte=day - timedelta(8))
    return {
        "active_days_7": Count("day", distinct=True, filter=usage & active_window),
        "usage_7": Sum("count", filter=usage & last_7, default=0),
        "trend_this_week": Sum("count", filter=usage & complete_week, default=0),
        "trend_last_week": Sum("count", filter=usage & previous_week, default=0),
        "breadth_14": Count("name", distinct=True, filter=usage & last_14),
        "errors_7": Sum("count", filter=Q(name="error.raised") & last_7, default=0),
        "tickets_created_30": Sum("count", filter=Q(name="ticket.created") & last_30, default=0),
        "tickets_resolved_30": Sum("count", filter=Q(name="ticket.resolved") & last_30, default=0),
        "ticket_days_90": Count("id", filter=Q(name__startswith="ticket.")),
        "nps_sum": Sum("value_sum", filter=Q(name="nps.submitted"), default=0.0),
        "nps_n": Sum("value_count", filter=Q(name="nps.submitted"), default=0),
        "csat_sum": Sum("value_sum", filter=Q(name="csat.submitted"), default=0.0),
        "csat_n": Sum("value_count", filter=Q(name="csat.submitted"), default=0),
        "qa_sum": Sum("value_sum", filter=Q(name="qa.reviewed"), default=0.0),
        "qa_n": Sum("value_count", filter=Q(name="qa.reviewed"), default=0),
        "feature_requests_90": Sum("count", filter=Q(name="feature.requested"), default=0),
    }


# Facts from other apps (onboarding's checklist, billing's mirror): `provider(tenant_ids, as_of)`
# returns {tenant id: {fact: value}}. Registered by the app above both (lifecycle), so health
# imports neither; each provider reads as of `as_of`, or returns nothing it cannot know then.
FactsProvider = Callable[[list[int] | None, datetime], dict[int, dict[str, Any]]]
_providers: dict[str, FactsProvider] = {}


def model_signals(model: HealthModel) -> list[str]:
    """The signals a model weighs: the facts worth reading for it."""
    return [component["key"] for component in model.components]


def register_facts_provider(name: str, provider: FactsProvider) -> None:
    _providers[name] = provider


def facts_for(
    *, tenant_ids: Iterable[int] | None, as_of: datetime, signals: Iterable[str] | None = None
) -> dict[int, Facts]:
    """Aggregated facts per tenant as of a moment, from rollups up to that day only (so the
    back-test sees no future), plus what `signals` (every signal when None) need from elsewhere:
    the team's size, the key event's days, the providers' facts. Tenants with none are absent."""
    day = as_of_day(as_of)
    ids = list(tenant_ids) if tenant_ids is not None else None
    wanted = set(signals) if signals is not None else set(SIGNALS)
    rollups = DailyRollup.all_tenants.filter(day__gt=day - timedelta(WINDOW_DAYS), day__lte=day)
    if ids is not None:
        rollups = rollups.filter(tenant_id__in=ids)
    rows = rollups.values("tenant_id").annotate(**_aggregates(day)).order_by()
    found: dict[int, Facts] = {row.pop("tenant_id"): row for row in rows}
    extras: list[dict[int, dict[str, Any]]] = []
    if "team_growth" in wanted:
        extras.append(team_facts(ids, day))
    if "key_event_consistency" in wanted:
        extras.append(key_event_facts(ids, day))
    for name, provider in _providers.items():
        if name in wanted:
            extras.append(provider(ids, as_of))
    for extra in extras:
        for tenant_id, values in extra.items():
            found.setdefault(tenant_id, {}).update(values)
    return found


def team_facts(tenant_ids: list[int] | None, day: date) -> dict[int, dict[str, Any]]:
    """Distinct users of the last 30 days and of the 30 before them (team growth)."""
    split = day - timedelta(days=TEAM_DAYS - 1)
    users = DailyEventUser.all_tenants.filter(day__gte=split - timedelta(days=TEAM_DAYS), day__lte=day)
    if tenant_ids is not None:
        users = users.filter(tenant_id__in=tenant_ids)
    counts = (
        users.values("tenant_id")
        .annotate(
            users_recent=Count("user_id", filter=Q(day__gte=split), distinct=True),
            users_before=Count("user_id", filter=Q(day__lt=split), distinct=True),
        )
        .order_by()
    )
    return {row.pop("tenant_id"): row for row in counts}


def key_event_facts(tenant_ids: list[int] | None, day: date) -> dict[int, dict[str, Any]]:
    """Days of the last 28 with the tenant's key event (its segment's, else the default)."""
    by_segment = settings.HEALTH_KEY_EVENTS_BY_SEGMENT
    names = {settings.HEALTH_KEY_EVENT, *by_segment.values()}
    rows = DailyRollup.all_tenants.filter(
        name__in=names, day__gt=day - timedelta(days=KEY_EVENT_DAYS), day__lte=day, count__gt=0
    )
    tenants = Tenant.objects.all()
    if tenant_ids is not None:
        rows, tenants = rows.filter(tenant_id__in=tenant_ids), tenants.filter(id__in=tenant_ids)
    days = {
        (r["tenant_id"], r["name"]): r["n"]
        for r in rows.values("tenant_id", "name").annotate(n=Count("day", distinct=True)).order_by()
    }
    segments = dict(tenants.values_list("id", "segment")) if by_segment else {}
    found: dict[int, dict[str, Any]] = {}
    for tenant_id in {t for t, _ in days} | set(segments if by_segment else ()):
        name = by_segment.get(segments.get(tenant_id, ""), settings.HEALTH_KEY_EVENT)
        found[tenant_id] = {"key_event": name, "key_event_days_28": days.get((tenant_id, name), 0)}
    return found


def tenure_days(*, signed_up_at: datetime, as_of: datetime) -> int:
    """Whole UTC calendar days since signup: the unit the rollups (and active days) count in."""
    return max(0, (as_of_day(as_of) - as_of_day(signed_up_at)).days)


def is_warming_up(*, model: HealthModel, signed_up_at: datetime, as_of: datetime) -> bool:
    """Younger than the model's warm-up: too little history for missing activity to mean
    anything, so the score is shown for information and the bucket is `new`."""
    return as_of - signed_up_at < timedelta(days=model.warmup_days)


def sub_score(points: list[list[float]], value: float) -> float:
    """Piecewise-linear through the model's (signal, score) points, flat beyond the ends."""
    ordered = sorted(points)
    if value <= ordered[0][0]:
        return float(ordered[0][1])
    for (x0, y0), (x1, y1) in pairwise(ordered):
        if value <= x1:
            return float(y0 + (y1 - y0) * (value - x0) / (x1 - x0)) if x1 != x0 else float(y1)
    return float(ordered[-1][1])


def target_of(points: list[list[float]], higher_is_better: bool) -> float:
    best = max(score for _, score in points)
    candidates = [value for value, score in points if score == best]
    return min(candidates) if higher_is_better else max(candidates)


@dataclass(frozen=True)
class TenantScore:
    score: float
    bucket: str
    components: list[dict[str, Any]]


def score_tenant(
    *, model: HealthModel, facts: Facts | None, tenure_days: int, warming_up: bool = False
) -> TenantScore | None:
    """A tenant's score under a model, with every component explained. None when no
    component has data. A tenant `warming_up` gets its score but the bucket `new`."""
    f: Facts = {**ZERO_FACTS, **(facts or {}), "tenure_days": tenure_days}
    components: list[dict[str, Any]] = []
    weight_with_data = 0.0
    for config in model.components:
        signal = SIGNALS[config["key"]]
        value = signal.value(f)
        if value is None:
            components.append(
                {
                    "key": signal.key,
                    "label": signal.label,
                    "signal": None,
                    "score": None,
                    "weight": config["weight"],
                    "contribution": 0.0,
                    "rationale": signal.explain_no_data(f),
                }
            )
            continue
        weight_with_data += config["weight"]
        target = target_of(config["points"], signal.higher_is_better)
        components.append(
            {
                "key": signal.key,
                "label": signal.label,
                "signal": value,
                "score": round(sub_score(config["points"], value), 1),
                "weight": config["weight"],
                "rationale": signal.describe(value, f, target),
            }
        )
    if weight_with_data == 0:
        return None
    total = 0.0
    for component in components:
        if component["score"] is not None:
            # Components without data are left out and the others renormalised, so a missing
            # signal never counts as zero.
            component["contribution"] = round(component["score"] * component["weight"] / weight_with_data, 1)
            total += component["score"] * component["weight"] / weight_with_data
    score = round(total, 1)
    return TenantScore(score=score, bucket=model.bucket_for(score, warming_up=warming_up), components=components)
