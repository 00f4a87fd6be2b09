"""Demo onboarding states: done on day 0, slow, stalled, abandoned. Deterministic."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta

from tenants.models import Tenant

from .models import Milestone, MilestoneProgress, TenantOnboarding
from .services import milestone_complete, milestones_complete_from_events, onboarding_start, onboardings_flag_stalled

STEP_DATA = {
    "connect_calendar": {"provider": "google", "calendar_address": "bookings@{domain}"},
    "provision_number": {"country": "US", "area_code": "415"},
    "tune_prompt": {
        "business_description": "Family-run {name}: repairs and installs, Mon–Sat 8am–6pm, "
        "same-day visits when booked before noon.",
        "greeting": "Thanks for calling {name}, how can I help?",
    },
    "invite_teammate": {"email": "office@{domain}"},
}
# state -> (fraction of wizard milestones done, hours to do each). The state is part of the
# tenant's one demo story (cs_cockpit.demo_data); its usage starts when the wizard is done.
STATES = {
    "day0": (1.0, (0.2, 3)),
    "slow": (1.0, (20, 96)),
    "stalled": (0.5, (2, 30)),
    "abandoned": (0.0, (1, 2)),
}


def seed_onboarding(*, now: datetime, states: Mapping[str, str], seed: int = 2026) -> dict[str, datetime | None]:
    """Starts onboarding for every tenant in `states` (by external id) that has none and
    completes its wizard milestones as its state says. Answers, for each tenant started, when
    it finished the wizard — the moment it could take its first call — or None if it has not.
    Event milestones (the live test call) complete later, from the usage: seed_onboarding_settle."""
    rng = random.Random(f"{seed}-onboarding")
    live_at: dict[str, datetime | None] = {}
    existing = set(TenantOnboarding.all_tenants.values_list("tenant_id", flat=True))
    for tenant in Tenant.objects.filter(external_id__in=list(states)).order_by("external_id"):
        share, (low, high) = STATES[states[tenant.external_id]]
        if tenant.id in existing:
            continue
        onboarding = onboarding_start(tenant=tenant)
        wizard = list(
            Milestone.objects.filter(
                template_id=onboarding.template_id, completion=Milestone.Completion.WIZARD
            ).order_by("position")
        )
        at = tenant.signed_up_at
        domain = tenant.owner_email.split("@")[-1]
        todo = wizard[: round(len(wizard) * share)]
        done = 0
        for milestone in todo:
            at += timedelta(hours=rng.uniform(low, high))
            if at >= now:
                break
            data = {k: v.format(domain=domain, name=tenant.name) for k, v in STEP_DATA.get(milestone.step, {}).items()}
            milestone_complete(
                tenant=tenant, milestone=milestone, source=MilestoneProgress.Source.WIZARD, now=now, at=at, data=data
            )
            done += 1
        live_at[tenant.external_id] = at if wizard and done == len(wizard) else None
    return live_at


def seed_onboarding_settle(*, now: datetime) -> None:
    """After the usage exists: event milestones complete at their first event, and what is
    overdue is flagged stalled — as the tick would have done."""
    milestones_complete_from_events(now=now)
    onboardings_flag_stalled(now=now)
