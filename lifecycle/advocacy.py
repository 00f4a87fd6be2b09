"""Advocacy candidates (issue 16 §6, seed 002's advocacy flywheel, seed 001's review and
referral programs): tenants to ask for a review, a testimonial, a case study or a referral —
healthy, a promoter (their latest NPS answer of the last 180 days is 9 or 10), onboarding
complete, and no urgent or high alert open (no one asks a customer for a favour mid-incident)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from alerts.models import ACTIVE_STATUSES, Alert, Severity
from core.events import AuditAction, TimelineKind
from health.models import DailyRollup, Event
from onboarding.models import TenantOnboarding
from tenants.models import HealthBucket, Tenant
from tenants.services import audit_record, timeline_record

from .models import AdvocacyAsk

PROMOTER_FROM = 9
OPEN_ASKS_SHOWN = 50
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


def advocacy_ask_record(
    *, tenant: Tenant, kind: str, outcome: str, actor: AbstractBaseUser | None, now: datetime, note: str = ""
) -> AdvocacyAsk:
    """Records an ask (a review, a testimonial, a case study, a referral) or its answer: one
    row per tenant and kind, audited and on the timeline. A bad kind or outcome is an error
    that lists the choices; the same outcome again writes nothing."""
    note = note.strip()
    if kind not in AdvocacyAsk.Kind.values:
        raise ValidationError(
            {"kind": [f"Ask for one of: {', '.join(str(k).lower() for k in AdvocacyAsk.Kind.labels)}."]}
        )
    if outcome not in AdvocacyAsk.Outcome.values:
        choices = ", ".join(str(o).lower() for o in AdvocacyAsk.Outcome.labels)
        raise ValidationError({"outcome": [f"The answer is one of: {choices}."]})
    if len(note) > 300:
        raise ValidationError({"note": [f"The note is {len(note)} characters; at most 300."]})
    with transaction.atomic():
        # Locked (or created) under the unique (tenant, kind): two CSMs at once apply in turn.
        ask, created = AdvocacyAsk.all_tenants.select_for_update().get_or_create(
            tenant=tenant,
            kind=kind,
            defaults={
                "outcome": outcome,
                "asked_at": now,
                "updated_at": now,
                "updated_by": actor,
                "note": note,
            },
        )
        if not created and ask.outcome == outcome and not note:
            return ask
        before = None if created else {"outcome": ask.outcome, "note": ask.note}
        if not created:
            ask.outcome, ask.updated_at, ask.updated_by = outcome, now, actor
            ask.note = note or ask.note
            ask.save(update_fields=["outcome", "updated_at", "updated_by", "note"])
        timeline_record(
            tenant=tenant,
            at=now,
            kind=TimelineKind.ADVOCACY_ASK,
            summary=f"{ask.get_kind_display()}: {ask.get_outcome_display().lower()}" + (f" — {note}" if note else ""),
            data={"kind": kind, "outcome": outcome},
        )
        audit_record(
            actor=actor,
            action=AuditAction.ADVOCACY_ASK,
            target=ask,
            tenant=tenant,
            at=now,
            before=before,
            after={"outcome": outcome, "note": ask.note},
        )
    return ask


def advocacy_asks(*, csm: str = "") -> QuerySet[AdvocacyAsk]:
    rows = AdvocacyAsk.all_tenants.select_related("tenant", "updated_by").order_by("-updated_at", "-id")
    return rows.filter(tenant__csm_owner_id=int(csm)) if csm else rows


def published_between(*, kind: str, start: datetime, end: datetime) -> QuerySet[AdvocacyAsk]:
    """Asks of a kind whose latest answer, published, came in [start, end): the report's case studies."""
    return AdvocacyAsk.all_tenants.filter(
        kind=kind, outcome=AdvocacyAsk.Outcome.PUBLISHED, updated_at__gte=start, updated_at__lt=end
    ).select_related("tenant")
