"""What playbooks know about a tenant, as of a moment: the fixed vocabulary that conditions
and templates may use. Computed for a whole set of tenants in a handful of queries (the
dispatcher, the run starter and the dry run all ask for hundreds at once).

A fact that this installation cannot know yet is `None` — "unknown" — and UNKNOWN_WHY says
why; a condition on it is neither true nor false, and the step says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, Sum

from billing.selectors import subscriptions_current
from billing.trials import trial_statuses
from health.components import NON_USAGE_PREFIXES
from health.models import DailyRollup
from messaging.models import Suppression
from onboarding.selectors import onboarding_blocks
from tenants.models import Tenant

from .models import Channel

# usage_level from active days in the last 7 (seed 004's high / medium / low usage split).
HIGH_USAGE_DAYS = 4
MEDIUM_USAGE_DAYS = 2

UNKNOWN_WHY: dict[str, str] = {
    "onboarding_percent": "the tenant has no onboarding checklist",
    "health_score": "the tenant has not been scored yet",
    "health_bucket": "the tenant has not been scored yet",
}


@dataclass(frozen=True)
class FactSpec:
    key: str
    kind: str  # "number", "text", "bool"
    help: str
    choices: tuple[str, ...] = ()


FACTS: dict[str, FactSpec] = {
    spec.key: spec
    for spec in [
        FactSpec("days_since_signup", "number", "Whole days since the tenant signed up"),
        FactSpec("plan", "text", "starter, professional or business", tuple(Tenant.Plan.values)),
        FactSpec("segment", "text", "The tenant's segment, e.g. “Dental clinics”"),
        FactSpec("onboarding_percent", "number", "Share of onboarding milestones done (0–100)"),
        FactSpec(
            "onboarding_stage",
            "text",
            "not_started, in_progress, stalled or complete",
            ("not_started", "in_progress", "stalled", "complete"),
        ),
        FactSpec("health_score", "number", "The latest health score (0–100)"),
        FactSpec(
            "health_bucket",
            "text",
            "healthy, at_risk, critical — or new (still in the health model's warm-up)",
            ("new", "healthy", "at_risk", "critical"),
        ),
        FactSpec("usage_level", "text", "high (4+ active days of 7), medium (2–3) or low", ("high", "medium", "low")),
        FactSpec("active_days_7", "number", "Days with product usage in the last 7"),
        FactSpec("events_7", "number", "Usage events in the last 7 days"),
        FactSpec(
            "subscription_status",
            "text",
            "trialing (also a free trial Stripe does not have yet), active, past_due, unpaid, canceled"
            " — or none (no subscription and no trial)",
            ("none", "trialing", "active", "past_due", "unpaid", "canceled", "incomplete", "paused"),
        ),
        FactSpec("dunning_paused", "bool", "Billing ops paused dunning for the past-due subscription"),
        FactSpec("has_phone", "bool", "The owner gave a phone number (consent to SMS is checked at send time)"),
        FactSpec("opted_out", "bool", "The owner's phone replied STOP (or the number is invalid)"),
        FactSpec("event_count", "number", "event_count(NAME, DAYS): events called NAME in the last DAYS days"),
    ]
}
MAX_EVENT_DAYS = 90


@dataclass
class TenantFacts:
    tenant: Tenant
    values: dict[str, Any]
    event_counts: dict[tuple[str, int], int] = field(default_factory=dict)

    def get(self, key: str, *, event: str = "", days: int = 0) -> Any:
        if key == "event_count":
            return self.event_counts.get((event, days), 0)
        return self.values.get(key)


@dataclass(frozen=True)
class EventWindow:
    """An (event name, days) pair that some condition or template asks about."""

    event: str
    days: int


def _usage_level(active_days: int) -> str:
    if active_days >= HIGH_USAGE_DAYS:
        return "high"
    if active_days >= MEDIUM_USAGE_DAYS:
        return "medium"
    return "low"


def _onboarding_facts(tenants: list[Tenant]) -> dict[int, tuple[int | None, str]]:
    """(percent, stage) per tenant, from the onboarding app's own page-at-once summaries."""
    result: dict[int, tuple[int | None, str]] = {}
    for tenant_id, block in onboarding_blocks(tenants).items():
        if block is None:
            result[tenant_id] = (None, "not_started")
        elif block["completed_at"]:
            result[tenant_id] = (block["percent"], "complete")
        else:
            result[tenant_id] = (block["percent"], "stalled" if block["stalled_since"] else "in_progress")
    return result


def _usage_facts(tenant_ids: list[int], now: datetime, windows: Iterable[EventWindow]) -> tuple[dict, dict]:
    today = now.astimezone(UTC).date()
    usage = ~Q(name__startswith=NON_USAGE_PREFIXES[0])
    for prefix in NON_USAGE_PREFIXES[1:]:
        usage &= ~Q(name__startswith=prefix)
    windows = sorted(set(windows), key=lambda w: (w.event, w.days))
    aggregates: dict[str, Any] = {
        # Today (partial) counts, on top of the 7 days before it: a new event shows within a tick.
        "active_days_7": Count("day", distinct=True, filter=usage & Q(day__gt=today - timedelta(7))),
        "events_7": Sum("count", filter=usage & Q(day__gt=today - timedelta(7)), default=0),
    }
    for i, window in enumerate(windows):
        aggregates[f"w{i}"] = Sum(
            "count", filter=Q(name=window.event, day__gt=today - timedelta(window.days)), default=0
        )
    longest = max([7, *(w.days for w in windows)])
    rows = (
        DailyRollup.all_tenants.filter(tenant_id__in=tenant_ids, day__gt=today - timedelta(longest), day__lte=today)
        .values("tenant_id")
        .annotate(**aggregates)
        .order_by()
    )
    usage_by_tenant, counts = {}, {}
    for row in rows:
        usage_by_tenant[row["tenant_id"]] = (row["active_days_7"], row["events_7"])
        counts[row["tenant_id"]] = {(w.event, w.days): row[f"w{i}"] for i, w in enumerate(windows)}
    return usage_by_tenant, counts


def facts_for_tenants(
    tenants: list[Tenant], *, now: datetime, windows: Iterable[EventWindow] = ()
) -> dict[int, TenantFacts]:
    """Facts for every tenant in `tenants` as of `now`, in six queries whatever their number."""
    ids = [t.id for t in tenants]
    if not ids:
        return {}
    onboarding = _onboarding_facts(tenants)
    usage, counts = _usage_facts(ids, now, windows)
    subscriptions = subscriptions_current(tenant_ids=ids)
    # A free trial signup started and Stripe does not have (yet, or at all): trialing too.
    trials = trial_statuses(tenant_ids=[i for i in ids if i not in subscriptions])
    phones = [t.owner_phone for t in tenants if t.owner_phone]
    suppressed = set(
        Suppression.objects.filter(channel=Channel.SMS, address__in=phones).values_list("address", flat=True)
    )
    result: dict[int, TenantFacts] = {}
    for tenant in tenants:
        active_days, events = usage.get(tenant.id, (0, 0))
        subscription = subscriptions.get(tenant.id)
        percent, stage = onboarding[tenant.id]
        result[tenant.id] = TenantFacts(
            tenant=tenant,
            values={
                "days_since_signup": max(0, (now - tenant.signed_up_at).days),
                "plan": tenant.plan,
                "segment": tenant.segment,
                "onboarding_percent": percent,
                "onboarding_stage": stage,
                "health_score": tenant.health_score,
                "health_bucket": tenant.health_bucket or None,
                "usage_level": _usage_level(active_days),
                "active_days_7": active_days,
                "events_7": events,
                "subscription_status": subscription.status if subscription else trials.get(tenant.id, "none"),
                "dunning_paused": bool(subscription and subscription.dunning_paused_at),
                # Consent is not part of it: an SMS step for a tenant with a phone but no
                # consent is skipped by the sender with its own reason, "no SMS consent".
                "has_phone": bool(tenant.owner_phone),
                "opted_out": bool(tenant.owner_phone) and tenant.owner_phone in suppressed,
            },
            event_counts=counts.get(tenant.id, {}),
        )
    return result


def unknown_reason(key: str) -> str:
    return UNKNOWN_WHY.get(key, f"{key} is not known")
