"""The demo's contracts — about a third of the live tenants came with an annual contract that
ends within the next 200 days, set through the same service staff use, so the first tick
starts their renewal runways — and its expansion pipeline."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from health.ingest import MAX_EVENTS, events_ingest
from health.models import Event
from tenants.models import Tenant
from tenants.services import tenant_contract_end_set

from .advocacy import advocacy_ask_record, advocacy_candidates
from .csat import LOOKBACK, csat_follow_up
from .expansion import expansion_sweep
from .models import Opportunity
from .services import opportunity_move


def seed_contracts(*, now: datetime, seed: int) -> int:
    rng = random.Random(seed + 17)  # its own sequence: the other seeds' draws stay the same
    dated = 0
    live = Tenant.objects.filter(external_id__startswith="demo-").exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
    for tenant in live.order_by("external_id"):
        if rng.random() < 0.35:
            ends_on = (now + timedelta(days=rng.randint(5, 200))).date()
            tenant_contract_end_set(tenant=tenant, ends_on=ends_on, actor=None, now=now)
            dated += 1
    return dated


FEATURES = [
    ("call transcripts in the CRM", "professional"),
    ("a second location", "professional"),
    ("a custom voice", "business"),
    ("priority support", "business"),
    ("outbound reminder calls", "professional"),
]


def seed_opportunities(*, now: datetime, seed: int) -> int:
    """Some tenants asked for a higher tier's feature in the last week (told as
    `feature.requested` events through the real ingest); the day's expansion sweep opens the
    pipeline from those and from usage, and the CSMs have moved a few along: proposed, two
    won (signed, the plan changes in Stripe at the next invoice) and lost ones with reasons."""
    rng = random.Random(seed + 19)
    live = (
        Tenant.objects.filter(external_id__startswith="demo-")
        .exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .exclude(plan=Tenant.Plan.BUSINESS)
        .order_by("external_id")
    )
    events = []
    for tenant in live:
        if rng.random() < 0.12:
            feature, plan = FEATURES[rng.randrange(len(FEATURES))]
            at = now - timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 12))
            events.append(
                {
                    "tenant": tenant.external_id,
                    "name": "feature.requested",
                    "occurred_at": at.isoformat(),
                    "properties": {"feature": feature, "plan": plan if plan != tenant.plan else "business"},
                }
            )
    if events:
        events_ingest(events=events, bound_tenant=None, now=now)
    expansion_sweep(now=now)
    opened = list(Opportunity.all_tenants.filter(stage=Opportunity.Stage.OPEN).select_related("owner").order_by("id"))
    won = 0
    for index, opportunity in enumerate(opened):
        actor = opportunity.owner
        if index % 4 == 1:
            opportunity_move(opportunity=opportunity, stage="proposed", actor=actor, now=now, note="Offer sent.")
        elif index % 9 == 2:
            opportunity_move(
                opportunity=opportunity, stage="lost", lost_reason=rng.choice(["price", "timing"]), actor=actor, now=now
            )
        elif index % 6 == 3 and won < 2:
            note = "Signed; the plan changes in Stripe at the next invoice."
            opportunity_move(opportunity=opportunity, stage="won", actor=actor, now=now, note=note)
            won += 1
    return len(opened)


def seed_csat_answers(*, now: datetime, seed: int) -> int:
    """About half the tickets resolved in the last two months (before the survey's two-day
    window, so the first tick does not ask again) were rated by their owners two hours later,
    mostly 4–5: `csat.submitted` events through the real ingest, with the follow-up a low
    rating gives the CSM."""
    rng = random.Random(seed + 23)
    resolved = (
        Event.all_tenants.filter(
            name="ticket.resolved",
            tenant__external_id__startswith="demo-",
            occurred_at__gte=now - timedelta(days=60),
            occurred_at__lt=now - LOOKBACK - timedelta(hours=2),
        )
        .select_related("tenant")
        .order_by("occurred_at", "id")
    )
    answers = []
    for event in resolved:
        if rng.random() < 0.5:
            ticket_id = str(event.properties.get("ticket_id", ""))
            score = rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 5, 8])[0]
            answers.append((event.tenant, ticket_id, score, event.occurred_at + timedelta(hours=2)))
    rows = [
        {
            "tenant": tenant.external_id,
            "name": "csat.submitted",
            "occurred_at": at.isoformat(),
            "properties": {"score": score, "comment": "", "ticket_id": ticket_id, "source": "survey"},
        }
        for tenant, ticket_id, score, at in answers
    ]
    for start in range(0, len(rows), MAX_EVENTS):
        events_ingest(events=rows[start : start + MAX_EVENTS], bound_tenant=None, now=now)
    for tenant, ticket_id, score, at in answers:
        csat_follow_up(tenant=tenant, ticket_id=ticket_id, score=score, comment="", now=at)
    return len(answers)


def seed_advocacy(*, now: datetime) -> int:
    """The CSMs have asked a few of their advocacy candidates: a review asked of one, a
    case study agreed with another and one published last week — through the same service."""
    candidates = advocacy_candidates(now=now)
    story = [("review", "asked", 0), ("case_study", "agreed", 2), ("case_study", "published", 7)]
    for candidate, (kind, outcome, days_ago) in zip(candidates, story, strict=False):
        tenant = candidate.tenant
        advocacy_ask_record(tenant=tenant, kind=kind, outcome=outcome, actor=tenant.csm_owner,
                            now=now - timedelta(days=days_ago))  # fmt: skip
    return min(len(candidates), len(story))
