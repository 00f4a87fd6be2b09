"""Advocacy candidates (issue 16 §6, seed 002's advocacy flywheel, seed 001's review and
referral programs): tenants to ask for a review, a testimonial, a case study or a referral —
healthy, a promoter (their latest NPS answer of the last 180 days is 9 or 10), onboarding
complete, and no urgent or high alert open (no one asks a customer for a favour mid-incident)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef

from alerts.models import ACTIVE_STATUSES, Alert, Severity
from health.models import DailyRollup, Event
from onboarding.models import TenantOnboarding
from tenants.models import HealthBucket, Tenant

PROMOTER_FROM = 9
NPS_DAYS = 180


@dataclass(frozen=True)
class Candidate:
    tenant: Tenant
    nps: int
    answered_at: datetime
    comment: str
    onboarded_at: datetime


def advocacy_candidates(*, now: datetime, csm: str = "") -> list[Candidate]:
    """Newest promoter first. A few queries whatever the book's size: the rollups name the
    tenants with NPS answers, the rest is filtered in the database."""
    since = now - timedelta(days=NPS_DAYS)
    answered = DailyRollup.all_tenants.filter(name="nps.submitted", day__gte=since.date()).values("tenant_id")
    urgent = Alert.all_tenants.filter(
        tenant_id=OuterRef("pk"), status__in=ACTIVE_STATUSES, severity__in=[Severity.P1, Severity.P2]
    )
    tenants = (
        Tenant.objects.filter(id__in=answered, health_bucket=HealthBucket.HEALTHY)
        .exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .exclude(Exists(urgent))
        .select_related("csm_owner")
    )
    if csm:
        tenants = tenants.filter(csm_owner_id=int(csm))
    by_id = {t.pk: t for t in tenants}
    onboarded = dict(
        TenantOnboarding.all_tenants.filter(tenant_id__in=list(by_id), completed_at__isnull=False).values_list(
            "tenant_id", "completed_at"
        )
    )
    latest: dict[int, Event] = {}
    answers = Event.all_tenants.filter(
        tenant_id__in=list(onboarded), name="nps.submitted", occurred_at__gte=since, occurred_at__lte=now
    ).order_by("occurred_at", "id")
    for event in answers:
        if isinstance(event.properties.get("score"), (int, float)):
            latest[event.tenant_id] = event  # the newest answer wins
    found = [
        Candidate(
            by_id[tenant_id],
            int(event.properties["score"]),
            event.occurred_at,
            str(event.properties.get("comment", ""))[:200],
            onboarded[tenant_id],
        )
        for tenant_id, event in latest.items()
        if event.properties["score"] >= PROMOTER_FROM
    ]
    return sorted(found, key=lambda c: (c.answered_at, c.tenant.pk), reverse=True)
