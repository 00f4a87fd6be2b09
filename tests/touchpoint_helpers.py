"""Shared by the touchpoint tests: a tenant signed up at an awkward hour far from UTC, the
hourly tick walk, and what was sent, read back from the locmem outboxes and the rows."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from django.core import mail

from core import ticks
from messaging import sms
from onboarding.services import onboarding_start
from playbooks.models import Delivery
from tenants.models import Tenant

from .factories import TenantFactory

# Sunday 1 Nov 2026, 21:00 in New York (02:00 UTC Monday): the Day-N messages fall outside the
# 09:00–18:00 window and must wait for the next morning, New York time.
SIGNUP = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")

# Every delivery onboarding-30 makes for a tenant without usage (usage_level low) but with a
# phone: (step key, day it goes, channel). The high/medium Day-3 variants are skipped.
EXPECTED_SENT = {
    "welcome-email": 0,
    "welcome-sms": 0,
    "calibration-call": 0,
    "activation-low": 3,
    "activation-low-call": 3,
    "first-week-recap": 7,
    "first-week-qa": 7,
    "day-14-check-in": 14,
    "value-review": 30,
    "value-review-call": 30,
}
EXPECTED_SKIPPED = {"activation-high", "activation-medium"}


def new_york_tenant(**extra: object) -> Tenant:
    fields = {
        "external_id": "harbor",
        "name": "Harbor HVAC",
        "owner_name": "Dana Reyes",
        "owner_email": "dana@harbor.example",
        "owner_phone": "+14155550123",
        "sms_consent_at": SIGNUP,
        "timezone": "America/New_York",
        "signed_up_at": SIGNUP,
        "plan": Tenant.Plan.PROFESSIONAL,
    }
    fields.update(extra)
    tenant = TenantFactory(**fields)
    onboarding_start(tenant=tenant)  # as a real signup does
    return tenant


def hourly(start: datetime, hours: int) -> list[datetime]:
    return [start + timedelta(hours=h) for h in range(hours + 1)]


def tick_at(moment: datetime) -> None:
    with time_machine.travel(moment, tick=False):
        results = ticks.run_tick(now=moment)
    failed = [f"{r.name}: {r.summary}" for r in results if not r.ok]
    assert not failed, failed


def sent_counts(tenant: Tenant) -> Counter:
    return Counter(
        Delivery.objects.for_tenant(tenant)
        .filter(status__in=[Delivery.Status.SENT, Delivery.Status.DELIVERED])
        .values_list("step__key", flat=True)
    )


def outbox_subjects() -> Counter:
    return Counter(m.subject for m in mail.outbox)


def sms_outbox() -> list[sms.SmsMessage]:
    return list(sms.outbox)


def owner_mail(tenant: Tenant) -> list:
    """Emails to the tenant's owner (staff digests and alert emails go to others)."""
    return [m for m in mail.outbox if m.to == [tenant.owner_email]]
