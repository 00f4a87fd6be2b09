"""Demo usage history: 60 days of events per tenant, shaped by an archetype so every bucket
and trend shows up, fed through the same ingest service the API uses. Deterministic."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from tenants.models import Tenant
from tenants.services import tenant_mark_churned

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
    weight: int
    active_days_per_week: float  # at its best
    features: int
    decline_from: float | None  # fraction of its life after which usage fades (None: no fade)
    errors: float  # error.raised per active day
    tickets: float  # tickets opened per week
    nps: tuple[int, int] | None
    churns: bool = False


ARCHETYPES = [
    Archetype("champion", 34, 6.2, 7, None, 0.1, 0.2, (9, 10)),
    Archetype("steady", 24, 5.2, 5, None, 0.3, 0.4, (7, 9)),
    Archetype("fading", 14, 5.5, 5, 0.6, 0.4, 0.6, (5, 8)),
    Archetype("struggling", 10, 2.0, 2, None, 2.5, 1.5, (2, 6)),
    Archetype("dormant", 6, 1.5, 1, 0.2, 0.0, 0.0, None),
    Archetype("churner", 12, 4.5, 4, 0.35, 1.2, 1.0, (3, 6), churns=True),
]


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


def seed_tenant_history(*, tenant: Tenant, archetype: Archetype, now: datetime, rng: random.Random) -> int:
    start = max(tenant.signed_up_at, now - timedelta(days=60))
    life_days = max(1, (now - tenant.signed_up_at).days)
    churn_at = None
    if archetype.churns and life_days >= 20:
        churn_at = tenant.signed_up_at + timedelta(days=rng.randint(max(14, life_days // 2), life_days - 2))
    events: list[dict] = []
    day = start
    while day < now and (churn_at is None or day < churn_at):
        age = (
            (day - tenant.signed_up_at).days / life_days
            if churn_at is None
            else ((day - tenant.signed_up_at) / (churn_at - tenant.signed_up_at))
        )
        intensity = 1.0
        if archetype.decline_from is not None and age > archetype.decline_from:
            intensity = max(0.0, 1 - (age - archetype.decline_from) / (1 - archetype.decline_from) * 1.1)
        if rng.random() < archetype.active_days_per_week / 7 * intensity:
            events += _day_events(rng, tenant, day, archetype, max(intensity, 0.2))
        if rng.random() < archetype.tickets / 7:
            events.append({"tenant": tenant.external_id, "name": "ticket.created", "occurred_at": day.isoformat()})
            if rng.random() < 0.6 * intensity + 0.2:
                resolved = min(day + timedelta(days=rng.randint(0, 3)), now - timedelta(minutes=1))
                events.append(
                    {"tenant": tenant.external_id, "name": "ticket.resolved", "occurred_at": resolved.isoformat()}
                )
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
    if churn_at is not None:
        tenant_mark_churned(tenant=tenant, at=churn_at, reason="Canceled: not enough value (demo)", actor=None, now=now)
    return len(events)


def seed_usage_history(*, now: datetime, seed: int = 2026) -> int:
    """Events for every tenant that has none yet; returns how many events were stored."""
    rng = random.Random(seed)
    with_history = set(DailyRollup.all_tenants.values_list("tenant_id", flat=True).distinct())
    total = 0
    for tenant in Tenant.objects.order_by("external_id"):
        archetype = rng.choices(ARCHETYPES, weights=[a.weight for a in ARCHETYPES])[0]
        if tenant.id in with_history:
            continue
        total += seed_tenant_history(
            tenant=tenant, archetype=archetype, now=now, rng=random.Random(f"{seed}-{tenant.external_id}")
        )
    return total
