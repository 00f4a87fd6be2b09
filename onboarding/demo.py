"""Demo onboarding states: done on day 0, slow, stalled, abandoned. Deterministic."""

from __future__ import annotations

import random
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
# (state, weight, fraction of wizard milestones done, hours to do each)
STATES = [
    ("day0", 40, 1.0, (0.2, 3)),
    ("slow", 30, 1.0, (20, 96)),
    ("stalled", 20, 0.5, (2, 30)),
    ("abandoned", 10, 0.0, (1, 2)),
]


def seed_onboarding(*, now: datetime, seed: int = 2026) -> int:
    rng = random.Random(f"{seed}-onboarding")
    started = 0
    existing = set(TenantOnboarding.all_tenants.values_list("tenant_id", flat=True))
    for tenant in Tenant.objects.order_by("external_id"):
        _state, _, share, (low, high) = rng.choices(STATES, weights=[s[1] for s in STATES])[0]
        if tenant.id in existing:
            continue
        onboarding = onboarding_start(tenant=tenant)
        started += 1
        wizard = list(
            Milestone.objects.filter(
                template_id=onboarding.template_id, completion=Milestone.Completion.WIZARD
            ).order_by("position")
        )
        at = tenant.signed_up_at
        domain = tenant.owner_email.split("@")[-1]
        for milestone in wizard[: round(len(wizard) * share)]:
            at += timedelta(hours=rng.uniform(low, high))
            if at >= now:
                break
            data = {k: v.format(domain=domain, name=tenant.name) for k, v in STEP_DATA.get(milestone.step, {}).items()}
            milestone_complete(
                tenant=tenant, milestone=milestone, source=MilestoneProgress.Source.WIZARD, now=now, at=at, data=data
            )
    milestones_complete_from_events(now=now)
    onboardings_flag_stalled(now=now)
    return started
