"""Reads of the health app. Tenant first; staff-wide reads are named so."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import TruncMonth
from django.http import Http404

from tenants.models import HealthBucket, Tenant

from .components import NON_USAGE_PREFIXES
from .models import DailyRollup, Event, HealthModel, HealthScore
from .seed_models import SEED_MODELS


def latest_score(*, tenant: Tenant) -> HealthScore | None:
    return HealthScore.objects.for_tenant(tenant).select_related("model").order_by("-day").first()


def score_history(*, tenant: Tenant, since: date) -> QuerySet[HealthScore]:
    return HealthScore.objects.for_tenant(tenant).filter(day__gte=since).order_by("day")


def week_over_week_change(*, tenant: Tenant, today: date) -> float | None:
    """Percent change of the score against the score a week earlier (feeds `health_drop`)."""
    scores = dict(
        HealthScore.objects.for_tenant(tenant)
        .filter(day__in=[today, today - timedelta(days=7)])
        .values_list("day", "score")
    )
    now_score, week_ago = scores.get(today), scores.get(today - timedelta(days=7))
    if now_score is None or not week_ago:
        return None
    return round((now_score - week_ago) * 100 / week_ago, 1)


def days_of_data(*, tenant: Tenant, as_of: datetime) -> int:
    """Whole days the cockpit has known the tenant (since signup, or its import) as of a
    score: what a `new` tenant's score is labelled with."""
    return max(0, (as_of - tenant.known_since).days)


def health_block(tenant: Tenant) -> dict[str, Any] | None:
    """The API's `health` section (CONTRACTS.md): the summary plus the component breakdown of
    the latest stored score."""
    block = health_summary(tenant)
    if block is not None:
        latest = latest_score(tenant=tenant)
        block["components"] = latest.components if latest else []
    return block


def health_blocks(tenants: Sequence[Tenant]) -> dict[int, dict[str, Any] | None]:
    """Summaries for a page of tenants, from their denormalised fields: no query at all."""
    return {tenant.id: health_summary(tenant) for tenant in tenants}


def health_summary(tenant: Tenant) -> dict[str, Any] | None:
    # A tenant in its warm-up is `new` even before any component has data (score null).
    if tenant.health_score is None and tenant.health_bucket != HealthBucket.NEW:
        return None
    return {
        "score": tenant.health_score,
        "bucket": tenant.health_bucket,
        "computed_at": tenant.health_computed_at,
        "data_as_of": tenant.data_as_of,
        "model_version": tenant.health_model_version,
    }


def health_models() -> QuerySet[HealthModel]:
    return HealthModel.objects.select_related("created_by", "published_by").order_by("-version")


def seed_models_missing() -> list[str]:
    """The seeds' models (health/seed_models.py) not drafted yet, by name."""
    names = [seed.name for seed in SEED_MODELS]
    drafted = set(HealthModel.objects.filter(name__in=names).values_list("name", flat=True))
    return [name for name in names if name not in drafted]


def health_model_get(*, version: int) -> HealthModel:
    """A health model version; a 404 for one that does not exist."""
    model = HealthModel.objects.filter(version=version).first()
    if model is None:
        raise Http404(f"There is no health model v{version}.")
    return model


def newest_event_received_at() -> datetime | None:
    """When the newest ingested event arrived (system status): the row with the highest id,
    through the primary key's index — not MAX(received_at) over every event."""
    return Event.all_tenants.order_by("-id").values_list("received_at", flat=True).first()


def events_received_since(*, since: datetime) -> int:
    """How many events arrived since `since` (the status page's ingest rate): on PostgreSQL
    from the BRIN index on received_at (migration 0005), so it reads only the newest ranges."""
    return Event.all_tenants.filter(received_at__gte=since).count()


# Events that say something happened to the customer's business, not that someone clicked:
# support tickets, errors, deploys, integrations, survey answers. They belong on the tenant's
# timeline beside what the cockpit did; product-usage events stay in rollups and charts.
BUSINESS_EVENT_PREFIXES = ("ticket.", "error.", "deploy.", "integration.", "nps.", "csat.")


def business_event_rows(*, tenant: Tenant) -> QuerySet:
    """The tenant's business events as timeline-shaped rows (id, at, kind, summary, data, source)."""
    match = Q()
    for prefix in BUSINESS_EVENT_PREFIXES:
        match |= Q(name__startswith=prefix)
    return (
        Event.objects.for_tenant(tenant)
        .filter(match)
        .annotate(at=F("occurred_at"), kind=F("name"), summary=Value(""), source=Value("event"))
        .values_list("id", "at", "kind", "summary", "properties", "source")
    )


def event_by_key(*, tenant: Tenant, idempotency_key: str) -> Event | None:
    return Event.objects.for_tenant(tenant).filter(idempotency_key=idempotency_key).first()


def event_get(*, tenant: Tenant, event_id: int) -> Event | None:
    """One event of this tenant (another tenant's id is None, as a missing one is)."""
    return Event.objects.for_tenant(tenant).filter(id=event_id).first()


def latest_events(*, tenant: Tenant, limit: int = 20, name: str = "") -> list[Event]:
    """The tenant's newest events (of one name, if given), to pick one to review."""
    events = Event.objects.for_tenant(tenant)
    if name:
        events = events.filter(name=name)
    return list(events.order_by("-occurred_at", "-id")[:limit])


def bucket_counts_by_day(*, days: Sequence[date], csm_id: int | None = None) -> dict[date, dict[str, int]]:
    """How many tenants were in each bucket on each of `days` (their score of that day), for
    one CSM's book or everyone's: one grouped query on the (day) index."""
    scores = HealthScore.all_tenants.filter(day__in=list(days))
    if csm_id is not None:
        scores = scores.filter(tenant__csm_owner_id=csm_id)
    counts: dict[date, dict[str, int]] = {day: {} for day in days}
    for day, bucket, n in scores.order_by().values_list("day", "bucket").annotate(n=Count("id")):
        counts[day][bucket] = n
    return counts


# --- Support tickets, told by ticket.* events (CONTRACTS.md → Support events) -----------------


@dataclass
class Ticket:
    ticket_id: str
    opened_at: datetime | None = None
    priority: str = "normal"
    tags: tuple[str, ...] = ()
    sentiment: float | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None


def tickets_of(*, tenant_ids: Sequence[int], since: datetime) -> dict[int, dict[str, Ticket]]:
    """Each tenant's tickets opened since `since`, from their events in one query: the first
    response and resolution are the earliest of each (a re-sent webhook changes nothing); an
    answer whose ticket opened before `since` is left out with it."""
    tickets: dict[int, dict[str, Ticket]] = {}
    events = (
        Event.all_tenants.filter(tenant_id__in=list(tenant_ids), name__in=TICKET_EVENT_NAMES, occurred_at__gte=since)
        .order_by("occurred_at", "id")
        .values_list("tenant_id", "name", "occurred_at", "properties")
    )
    for tenant_id, name, at, props in events:
        ticket_id = str(props.get("ticket_id", ""))
        ticket = tickets.setdefault(tenant_id, {}).setdefault(ticket_id, Ticket(ticket_id))
        if name == "ticket.created" and ticket.opened_at is None:
            ticket.opened_at = at
            ticket.priority = str(props.get("priority", "normal"))
            ticket.tags = tuple(props.get("tags") or ())
            sentiment = props.get("sentiment")
            ticket.sentiment = float(sentiment) if isinstance(sentiment, (int, float)) else None
        elif name == "ticket.first_response" and ticket.first_response_at is None:
            ticket.first_response_at = at
        elif name == "ticket.resolved" and ticket.resolved_at is None:
            ticket.resolved_at = at
    return {
        tenant_id: {k: t for k, t in by_id.items() if t.opened_at is not None} for tenant_id, by_id in tickets.items()
    }


def tenants_with_tickets_since(*, day: date) -> list[int]:
    """Tenants with a ticket event since `day`, from the rollups (tickets are rare)."""
    return list(
        DailyRollup.all_tenants.filter(name__in=TICKET_EVENT_NAMES, day__gte=day)
        .values_list("tenant_id", flat=True)
        .distinct()
    )


TICKET_EVENT_NAMES = ("ticket.created", "ticket.first_response", "ticket.resolved")


@dataclass(frozen=True)
class TicketRow:
    ticket: Ticket
    first_response_hours: float | None
    resolution_hours: float | None
    first_response_late: bool  # answered after the target, or unanswered past it


@dataclass(frozen=True)
class SupportSummary:
    """One tenant's support of the last 90 days against its plan's targets."""

    first_target_hours: int
    resolve_target_hours: int
    tickets: list[TicketRow]  # newest first
    open_count: int
    within_target: int  # first responses within the target, of the tickets that are due
    due: int  # tickets answered, or unanswered past the target (not yet due: not judged)
    median_first_response_hours: float | None
    median_resolution_hours: float | None
    top_tags: list[tuple[str, int]]  # repeat issues: the most frequent tags, most first


SUPPORT_WINDOW = timedelta(days=90)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def support_summary(*, tenant: Tenant, targets: tuple[int, int], now: datetime) -> SupportSummary:
    """The tenant's tickets of the last 90 days (one query), judged against `targets` (hours to
    the first response, to resolution)."""
    first_hours, resolve_hours = targets
    tickets = tickets_of(tenant_ids=[tenant.id], since=now - SUPPORT_WINDOW).get(tenant.id, {})
    rows, tags = [], Counter[str]()
    within = due = 0
    for ticket in sorted(tickets.values(), key=lambda t: t.opened_at or now, reverse=True):
        opened = ticket.opened_at or now
        first = (ticket.first_response_at - opened).total_seconds() / 3600 if ticket.first_response_at else None
        resolved = (ticket.resolved_at - opened).total_seconds() / 3600 if ticket.resolved_at else None
        late = first > first_hours if first is not None else now - opened > timedelta(hours=first_hours)
        if first is not None or late:
            due += 1
            within += not late
        rows.append(TicketRow(ticket, round(first, 1) if first is not None else None,
                              round(resolved, 1) if resolved is not None else None, late))  # fmt: skip
        tags.update(ticket.tags)
    return SupportSummary(
        first_target_hours=first_hours,
        resolve_target_hours=resolve_hours,
        tickets=rows,
        open_count=sum(1 for r in rows if r.ticket.resolved_at is None),
        within_target=within,
        due=due,
        median_first_response_hours=_median(
            [r.first_response_hours for r in rows if r.first_response_hours is not None]
        ),
        median_resolution_hours=_median([r.resolution_hours for r in rows if r.resolution_hours is not None]),
        top_tags=tags.most_common(3),
    )


@dataclass(frozen=True)
class MonthUsage:
    month: date
    events: int  # usage events (every event but the non-usage families)
    active_days: int
    key_events: int  # the key event's count (HEALTH_KEY_EVENT), the outcome a renewal talks about


def monthly_usage(*, tenant: Tenant, months: int, today: date, key_event: str) -> list[MonthUsage]:
    """The tenant's usage per calendar month (UTC), oldest first, the current month to date:
    one query on its rollups."""
    first = today.replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    usage = Q()
    for prefix in NON_USAGE_PREFIXES:
        usage &= ~Q(name__startswith=prefix)
    rows = (
        DailyRollup.objects.for_tenant(tenant)
        .filter(day__gte=first, day__lte=today)
        .annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(
            events=Sum("count", filter=usage, default=0),
            active_days=Count("day", filter=usage, distinct=True),
            key_events=Sum("count", filter=Q(name=key_event), default=0),
        )
        .order_by()
    )
    found = {row["month"]: row for row in rows}
    result, month = [], first
    while month <= today:
        row = found.get(month, {})
        result.append(MonthUsage(month, row.get("events", 0), row.get("active_days", 0), row.get("key_events", 0)))
        month = (month + timedelta(days=32)).replace(day=1)
    return result
