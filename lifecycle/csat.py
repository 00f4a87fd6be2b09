"""The post-resolution survey (seed 001: "CSAT survey after every ticket"): when a ticket is
resolved (`ticket.resolved`), the tick emails the tenant's owner a signed link — no login —
to rate the help from 1 to 5 with a comment. The answer is a `csat.submitted` event through
the real ingest (with the ticket id), so it feeds health's sentiment and the monthly
report's CSAT; one answer per link; the link closes after SURVEY_LINK_MAX_AGE_DAYS. A low
answer (1–2) gives the CSM a task to follow up; a happy one (4–5) sees the review ask.

Only tickets resolved in the last two days are asked about: an installation that starts
receiving ticket events does not survey its customers' whole history at once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from core.events import TimelineKind
from core.surveys import survey_link_read
from health.ingest import IngestRejected, events_ingest
from health.models import DailyRollup, Event
from messaging.models import Message
from messaging.outbox import messages_enqueue
from playbooks.models import Task, TouchpointPause
from tenants.models import Tenant
from tenants.services import timeline_record

from .models import CsatAsk
from .owner_mail import first_name, owner_survey_email

CSAT_SALT = "lifecycle.csat-survey"
CSAT_PURPOSE = "lifecycle.csat"
LOOKBACK = timedelta(days=2)
HAPPY_FROM = 4  # seed 001: CSAT ≥ 4 starts the review ask
UNHAPPY_TO = 2


def csat_token(*, tenant_id: int, ticket_id: str) -> str:
    return signing.dumps({"tenant": tenant_id, "ticket": ticket_id}, salt=CSAT_SALT)


def csat_key(token: str) -> str:
    """The answer's idempotency key: one answer per link."""
    return f"csat-survey:{hashlib.sha256(token.encode()).hexdigest()[:40]}"


def _email(tenant: Tenant, ticket_id: str, now: datetime) -> Message:
    link = settings.SITE_URL.rstrip("/") + reverse(
        "csat-survey", args=[csat_token(tenant_id=tenant.id, ticket_id=ticket_id)]
    )
    return owner_survey_email(
        tenant=tenant,
        dedupe_key=f"csat:{tenant.id}:{hashlib.sha256(ticket_id.encode()).hexdigest()[:32]}",
        purpose=CSAT_PURPOSE,
        subject=f"How did we do with {ticket_id}?",
        text=f"Hi {first_name(tenant)},\n\n"
        f"Your support request {ticket_id} was resolved. How satisfied are you with the help you got? "
        f"One click, 1 to 5, and a comment if you like:\n\n{link}\n\n"
        f"Thank you — it goes straight to the people who helped you.\n{settings.BRAND_NAME} support",
        now=now,
    )


def csat_asks_send(*, now: datetime) -> int:
    """Asks about every ticket resolved in the last two days that has not been asked about.
    Cheap when nothing was resolved: one query on the rollups' (name, tenant, day) index."""
    since = now - LOOKBACK
    resolved_by = list(
        DailyRollup.all_tenants.filter(name="ticket.resolved", day__gte=since.date())
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    if not resolved_by:
        return 0
    tenants = {
        t.pk: t
        for t in Tenant.objects.filter(id__in=resolved_by).exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
    }
    asked = set(
        CsatAsk.all_tenants.filter(tenant_id__in=list(tenants), resolved_at__gte=since - LOOKBACK).values_list(
            "tenant_id", "ticket_id"
        )
    )
    paused = set(TouchpointPause.all_tenants.filter(tenant_id__in=list(tenants)).values_list("tenant_id", flat=True))
    events = Event.all_tenants.filter(
        tenant_id__in=list(tenants), name="ticket.resolved", occurred_at__gte=since, occurred_at__lte=now
    ).order_by("occurred_at", "id")
    made = 0
    for event in events:
        ticket_id = str(event.properties.get("ticket_id", "")).strip()
        if not ticket_id or (event.tenant_id, ticket_id) in asked:
            continue
        asked.add((event.tenant_id, ticket_id))
        made += _ask(tenant=tenants[event.tenant_id], ticket_id=ticket_id, resolved_at=event.occurred_at,
                     paused=event.tenant_id in paused, now=now)  # fmt: skip
    return made


def _ask(*, tenant: Tenant, ticket_id: str, resolved_at: datetime, paused: bool, now: datetime) -> int:
    try:
        with transaction.atomic():
            # The row and its email in one transaction: the unique (tenant, ticket) row is the
            # guard — a second tick that found the same ticket fails its INSERT here and sends nothing.
            CsatAsk.objects.create(
                tenant=tenant,
                ticket_id=ticket_id,
                resolved_at=resolved_at,
                created_at=now,
                skipped="touchpoints paused" if paused else "",
            )
            if not paused:
                messages_enqueue([_email(tenant, ticket_id, now)])
    except IntegrityError:
        return 0
    return 0 if paused else 1


# --- the answer -------------------------------------------------------------------------------


def csat_link_read(*, token: str) -> tuple[Tenant, str]:
    """The tenant and ticket a link is for; a friendly error for an expired or forged one."""
    payload = survey_link_read(token, salt=CSAT_SALT)
    tenant = Tenant.objects.filter(id=payload.get("tenant")).first()
    if tenant is None or not isinstance(payload.get("ticket"), str):
        raise ValidationError("This survey link is not valid.")
    return tenant, payload["ticket"]


def csat_answer_of(*, tenant: Tenant, token: str) -> int | None:
    event = Event.objects.for_tenant(tenant).filter(idempotency_key=csat_key(token)).first()
    score = event.properties.get("score") if event else None
    return int(score) if isinstance(score, (int, float)) else None


def csat_submit(*, token: str, score: Any, comment: str, now: datetime) -> tuple[Tenant, bool]:
    """Records the answer as a `csat.submitted` event; returns whether this one was recorded
    (False: the link had been answered). A low score gives the CSM a follow-up task in the
    same transaction, so one answer makes one task."""
    tenant, ticket_id = csat_link_read(token=token)
    try:
        value = int(str(score))
    except ValueError:
        value = 0
    if not 1 <= value <= 5:
        raise ValidationError({"score": ["Pick a score from 1 (very unsatisfied) to 5 (very satisfied)."]})
    remark = comment.strip()[:1000]
    event = {
        "tenant": tenant.external_id,
        "name": "csat.submitted",
        "occurred_at": now.isoformat(),
        "properties": {"score": value, "comment": remark, "ticket_id": ticket_id, "source": "survey"},
        "idempotency_key": csat_key(token),
    }
    try:
        with transaction.atomic():
            stored = events_ingest(events=[event], bound_tenant=None, now=now).accepted == 1
            if stored:
                csat_follow_up(tenant=tenant, ticket_id=ticket_id, score=value, comment=remark, now=now)
    except IngestRejected as exc:
        raise ValidationError({"score": [e.message for e in exc.errors]}) from None
    return tenant, stored


def csat_follow_up(*, tenant: Tenant, ticket_id: str, score: int, comment: str, now: datetime) -> None:
    quote = f": “{comment[:200]}”" if comment else ""
    timeline_record(
        tenant=tenant,
        at=now,
        kind=TimelineKind.CSAT_ANSWERED,
        summary=f"CSAT {score}/5 for ticket {ticket_id}{quote}",
        data={"score": score, "ticket_id": ticket_id},
    )
    if score <= UNHAPPY_TO:
        Task.objects.create(
            tenant=tenant,
            title=f"{tenant.name} rated support {score}/5 on {ticket_id}: follow up"[:300],
            body="They were unhappy with how their ticket was handled. Call the owner today, find out "
            "what went wrong and what would make it right." + (f"\n\nTheir words: “{comment}”" if comment else ""),
            assignee=tenant.csm_owner,
            role="csm",
            due_at=now + timedelta(days=1),
            created_at=now,
        )
