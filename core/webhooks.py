"""Counting the providers' webhooks for system status: one row per provider and hour.

Counted outside any request transaction (autocommit), so a callback's row lock on its hour
lasts one UPDATE, not the whole request — Twilio can send a receipt per SMS."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from .models import WebhookTally

OUTCOMES = ("accepted", "rejected", "failed")


def webhook_tally(*, provider: str, outcome: str, now: datetime) -> None:
    """Adds one webhook to its provider's hour."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown webhook outcome {outcome!r}")
    hour = now.replace(minute=0, second=0, microsecond=0)
    changes: dict[str, object] = {outcome: F(outcome) + 1}
    if outcome == "accepted":
        changes["last_accepted_at"] = now
    rows = WebhookTally.objects.filter(provider=provider, hour=hour)
    if rows.update(**changes):
        return
    # The hour's first webhook. Two can arrive together: both find no row, one creates it,
    # the other's INSERT hits the unique constraint (in its own savepoint) and it counts by
    # UPDATE like every later webhook of the hour.
    try:
        with transaction.atomic():
            WebhookTally.objects.create(
                provider=provider,
                hour=hour,
                **{outcome: 1},
                last_accepted_at=now if outcome == "accepted" else None,
            )
    except IntegrityError:
        rows.update(**changes)


def webhook_totals(*, provider: str, now: datetime, hours: int = 24) -> dict[str, object]:
    """The provider's last `hours` hours: accepted, rejected and failed, and the newest
    accepted webhook ever (the newest row that has one)."""
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    rows = WebhookTally.objects.filter(provider=provider)
    totals = rows.filter(hour__gte=since).aggregate(
        accepted=Sum("accepted"), rejected=Sum("rejected"), failed=Sum("failed")
    )
    # The newest hour with an accepted webhook, read backwards along the unique index.
    latest = rows.exclude(last_accepted_at=None).order_by("-hour").values_list("last_accepted_at", flat=True).first()
    return {**{k: v or 0 for k, v in totals.items()}, "last_accepted_at": latest}
