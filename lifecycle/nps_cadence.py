"""The quarterly NPS survey (issue 16 §2, seed 001: "NPS survey quarterly"). Onboarding's
Day 30 email carries the first survey link; from then on every 90 days — at signup + 120,
210, 300 … days — the tick emails the owner the same signed link (0–10 and a comment, no
login), through the outbox, on a weekday between 09:00 and 17:00 in the tenant's time zone.
The answer is an `nps.submitted` event like any: health's sentiment, `nps_detractor`, and a
promoter's review ask."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from messaging.models import Message
from messaging.outbox import messages_enqueue
from playbooks.models import TouchpointPause
from playbooks.templating import absolute_url, survey_token
from tenants.models import Tenant

from .models import NpsAsk
from .owner_mail import first_name, owner_survey_email

FIRST_DAY = 30  # onboarding's Day 30 survey
EVERY = 90
PURPOSE = "lifecycle.nps"


def ask_number(*, signed_up_at: datetime, now: datetime) -> int:
    """Which quarterly ask is due: 0 before signup + 120 days, then 1, 2, …"""
    days = (now - signed_up_at).days - FIRST_DAY
    return max(0, days // EVERY)


def _in_office_hours(tenant: Tenant, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(tenant.timezone))
    return local.weekday() < 5 and 9 <= local.hour < 17


def _email(tenant: Tenant, number: int, now: datetime) -> Message:
    link = absolute_url("nps-survey", survey_token(tenant.id))
    return owner_survey_email(
        tenant=tenant,
        dedupe_key=f"nps-quarterly:{tenant.id}:{number}",
        purpose=PURPOSE,
        subject=f"{first_name(tenant)}, how likely are you to recommend {settings.BRAND_NAME}?",
        text=f"Hi {first_name(tenant)},\n\nOnce a quarter we ask our customers one question: how likely are you to "
        f"recommend {settings.BRAND_NAME} to a friend or colleague? It takes ten seconds:\n\n{link}\n\n"
        f"Every answer is read by your customer success manager.\n{settings.BRAND_NAME}",
        now=now,
    )


def quarterly_nps_send(*, now: datetime) -> int:
    """Asks every live tenant whose quarterly survey is due and not yet asked. Cheap: the
    candidates are the tenants past 120 days without an ask in the last 80 days (indexed)."""
    recent = NpsAsk.all_tenants.filter(tenant_id=OuterRef("pk"), created_at__gte=now - timedelta(days=EVERY - 10))
    candidates = (
        Tenant.objects.filter(signed_up_at__lte=now - timedelta(days=FIRST_DAY + EVERY))
        .exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .exclude(Exists(recent))
        .order_by("id")
    )
    paused = set(TouchpointPause.all_tenants.values_list("tenant_id", flat=True))
    sent = 0
    for tenant in candidates:
        number = ask_number(signed_up_at=tenant.signed_up_at, now=now)
        if number < 1 or not _in_office_hours(tenant, now):
            continue
        try:
            with transaction.atomic():
                # The unique (tenant, number) row and the email in one transaction: a second
                # tick that found the same ask fails its INSERT here and sends nothing.
                NpsAsk.objects.create(
                    tenant=tenant,
                    number=number,
                    created_at=now,
                    skipped="touchpoints paused" if tenant.pk in paused else "",
                )
                if tenant.pk not in paused:
                    messages_enqueue([_email(tenant, number, now)])
                    sent += 1
        except IntegrityError:
            continue
    return sent
