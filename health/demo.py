"""Demo usage history: up to 60 days of events per tenant, shaped by an archetype so every
bucket and trend shows up, fed through the same ingest service the API uses. Deterministic.

Which archetype a tenant follows, when it went live and when it left are not chosen here:
they come from the tenant's one demo story (cs_cockpit.demo_data), so its usage agrees with
its onboarding (no calls before its number exists) and its billing (none after it canceled).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from tenants.models import Tenant

from .ingest import MAX_EVENTS, events_ingest
from .models import DailyRollup

# The CloudGreet product: an AI receptionist. Its features are the usage event names.
FEATURES = [
    "call.handled",
    "appointment.booked",
    "outreach.sent",
    "sms.sent",
    "report.exported",
    "knowledge.updated",
    "calendar.synced",
    "prompt.tuned",
]


@dataclass(frozen=True)
class Archetype:
    name: str
    active_days_per_week: float  # at its best
    features: int
    decline_from: float | None  # fraction of its life after which usage fades (None: no fade)
    errors: float  # error.raised per active day
    tickets: float  # tickets opened per week
    nps: tuple[int, int] | None


ARCHETYPES = {
    a.name: a
    for a in [
        Archetype("champion", 6.2, 7, None, 0.1, 0.2, (9, 10)),
        Archetype("steady", 5.2, 5, None, 0.3, 0.4, (7, 9)),
        Archetype("fading", 5.5, 5, 0.6, 0.4, 0.6, (5, 8)),
        Archetype("struggling", 2.0, 2, None, 2.5, 1.5, (2, 6)),
        Archetype("dormant", 1.5, 1, 0.2, 0.0, 0.0, None),
        # Fades from a third of its life until the day it cancels (its story's churn date).
        Archetype("churner", 4.5, 4, 0.35, 1.2, 1.0, (3, 6)),
    ]
}


@dataclass(frozen=True)
class UsagePlan:
    """One tenant's usage, from its story: `archetype` None means it never went live (no
    number, no calls: no events at all); usage runs from `live_at` to `churn_at` (or now)."""

    archetype: str | None
    live_at: datetime | None
    churn_at: datetime | None = None


def _day_events(rng: random.Random, tenant: Tenant, day: datetime, a: Archetype, intensity: float) -> list[dict]:
    events = []
    users = [f"{tenant.external_id}-u{n}" for n in range(1, 2 + a.features)]
    for feature in FEATURES[: a.features]:
        for _ in range(rng.randint(1, max(1, round(6 * intensity)))):
            at = datetime.combine(day.date(), time(rng.randint(8, 19), rng.randint(0, 59)), tzinfo=day.tzinfo)
            at = min(at, day)  # never after the moment being simulated (today: never in the future)
            events.append(
                {
                    "tenant": tenant.external_id,
                    "name": feature,
                    "occurred_at": at.isoformat(),
                    "user_id": rng.choice(users),
                }
            )
    for _ in range(int(a.errors) + (1 if rng.random() < a.errors % 1 else 0)):
        events.append(
            {
                "tenant": tenant.external_id,
                "name": "error.raised",
                "occurred_at": day.isoformat(),
                "properties": {"code": rng.choice(["twilio_timeout", "calendar_401", "llm_rate_limit"])},
            }
        )
    return events


def seed_tenant_history(
    *,
    tenant: Tenant,
    archetype: Archetype,
    live_at: datetime,
    churn_at: datetime | None,
    now: datetime,
    rng: random.Random,
) -> int:
    """Events from the day the tenant went live until it churned (or now)."""
    start = max(live_at, now - timedelta(days=60))
    end = min(churn_at, now) if churn_at else now
    life = max(end - live_at, timedelta(days=1))
    events: list[dict] = []
    tickets = 0
    # Each step simulates the day that ends at `day`: its events fall in (day - 1 day, day],
    # so none comes before the tenant went live or after it left.
    day = start + timedelta(days=1)
    while day <= end:
        age = (day - live_at) / life
        intensity = 1.0
        if archetype.decline_from is not None and age > archetype.decline_from:
            intensity = max(0.0, 1 - (age - archetype.decline_from) / (1 - archetype.decline_from) * 1.1)
        if rng.random() < archetype.active_days_per_week / 7 * intensity:
            events += _day_events(rng, tenant, day, archetype, max(intensity, 0.2))
        if rng.random() < archetype.tickets / 7:
            tickets += 1
            ticket = _ticket(tenant.external_id, tickets, unhappy=intensity < 0.6)
            events.append(
                {"tenant": tenant.external_id, "name": "ticket.created", "occurred_at": day.isoformat(), **ticket}
            )
            # Answered 1 to 6 hours later (some past their plan's first-response target), when
            # that is not in the future. No random draw: the other events' sequence stays put.
            answered = day + timedelta(hours=1 + tickets % 6)
            resolved = None
            if rng.random() < 0.6 * intensity + 0.2:
                resolved = max(day, min(day + timedelta(days=rng.randint(0, 3)), end - timedelta(minutes=1)))
                answered = min(answered, resolved)
            if answered < now:
                events.append(_ticket_event(tenant.external_id, "ticket.first_response", answered, ticket))
            if resolved is not None:
                events.append(_ticket_event(tenant.external_id, "ticket.resolved", resolved, ticket))
        if archetype.nps and rng.random() < 0.03:
            low, high = archetype.nps
            events.append(
                {
                    "tenant": tenant.external_id,
                    "name": "nps.submitted",
                    "occurred_at": day.isoformat(),
                    "properties": {"score": rng.randint(low, high)},
                }
            )
        day += timedelta(days=1)
    for start_index in range(0, len(events), MAX_EVENTS):
        events_ingest(events=events[start_index : start_index + MAX_EVENTS], bound_tenant=None, now=now)
    return len(events)


def seed_usage_history(*, now: datetime, plans: Mapping[str, UsagePlan], seed: int = 2026) -> int:
    """Events for every tenant in `plans` (by external id) that has none yet and went live;
    returns how many events were stored."""
    with_history = set(DailyRollup.all_tenants.values_list("tenant_id", flat=True).distinct())
    total = 0
    for tenant in Tenant.objects.filter(external_id__in=list(plans)).order_by("external_id"):
        plan = plans[tenant.external_id]
        if tenant.id in with_history or plan.archetype is None or plan.live_at is None or plan.live_at >= now:
            continue
        total += seed_tenant_history(
            tenant=tenant,
            archetype=ARCHETYPES[plan.archetype],
            live_at=plan.live_at,
            churn_at=plan.churn_at,
            now=now,
            rng=random.Random(f"{seed}-{tenant.external_id}"),
        )
    return total


TICKET_TAGS = [["calls"], ["billing"], ["calendar", "integration"], ["setup"], ["outage", "calls"], ["how-to"]]
TICKET_PRIORITIES = ["normal", "high", "low", "normal", "urgent"]


def _ticket(external_id: str, n: int, *, unhappy: bool) -> dict:
    """A help-desk ticket's properties (CONTRACTS.md → Support events), varied by its number."""
    return {
        "properties": {
            "ticket_id": f"{external_id}-{n}",
            "priority": TICKET_PRIORITIES[n % len(TICKET_PRIORITIES)],
            "tags": TICKET_TAGS[n % len(TICKET_TAGS)],
            "sentiment": -0.7 if unhappy else 0.4,
        }
    }


def _ticket_event(external_id: str, name: str, at: datetime, ticket: dict) -> dict:
    return {
        "tenant": external_id,
        "name": name,
        "occurred_at": at.isoformat(),
        "properties": {"ticket_id": ticket["properties"]["ticket_id"]},
    }
