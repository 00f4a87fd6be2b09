"""The tenant's timeline in the cockpit: what the cockpit did and saw (tenants' timeline
entries) merged with the business events the SaaS backend sent (tickets, errors, deploys,
integrations, survey answers), newest first, one SQL query per page, filterable by kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from health import selectors as health_selectors
from tenants import selectors as tenant_selectors
from tenants.labels import humanize
from tenants.models import TIMELINE_KIND_LABELS, Tenant

# Filter key → (label, timeline kinds it keeps). "events" is the business events; "" is all.
KIND_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "notes": ("Notes", ("tenant.note_added",)),
    "alerts": ("Alerts", ("alert.",)),
    "touchpoints": ("Touchpoints", ("touchpoint.", "touchpoints.", "sms.", "playbook.")),
    "tasks": ("Tasks", ("task.",)),
    "onboarding": ("Onboarding", ("onboarding.", "tenant.created")),
    "health": ("Health", ("health.",)),
    "billing": ("Billing", ("billing.",)),
    "qa": ("QA reviews", ("qa.",)),
    "support": ("Support ratings", ("support.",)),
    "renewals": ("Renewals, expansion & advocacy", ("tenant.contract_end", "renewal.", "expansion.", "advocacy.")),
    "account": (
        "Account",
        (
            "tenant.lifecycle",
            "tenant.csm",
            "tenant.churn",
            "tenant.reactivated",
            "tenant.sms_consent",
            "tenant.timezone",
            "membership.",
        ),
    ),
    "events": ("Tickets, errors & deploys", ()),
}
SUMMARY_KEYS = ("subject", "title", "message", "summary", "name", "score", "comment", "status", "version")
SUMMARY_MAX = 200


@dataclass(frozen=True)
class TimelineRow:
    at: datetime
    kind: str
    label: str
    summary: str
    from_events: bool


def _event_summary(properties: Any) -> str:
    """A business event's words: its telling properties (subject, message, …) in that order."""
    if not isinstance(properties, dict):
        return ""
    parts = [f"{humanize(key)}: {properties[key]}" for key in SUMMARY_KEYS if properties.get(key) not in (None, "")]
    text = " · ".join(parts)
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def row_from(values: tuple) -> TimelineRow:
    _id, at, kind, summary, data, source = values
    if source == "event":
        return TimelineRow(at=at, kind=kind, label=humanize(kind), summary=_event_summary(data), from_events=True)
    label = TIMELINE_KIND_LABELS.get(kind) or humanize(kind)
    return TimelineRow(at=at, kind=kind, label=label, summary=summary, from_events=False)


def tenant_timeline(*, tenant: Tenant, group: str = "") -> QuerySet:
    """Rows (id, at, kind, summary, data, source), newest first; map each page through row_from.
    Ties on `at` (a tick writes many entries at one moment) break on source and id, so pages
    neither repeat nor skip a row."""
    if group == "events":
        rows = health_selectors.business_event_rows(tenant=tenant)
    elif group:
        rows = tenant_selectors.timeline_rows(tenant=tenant, kind_prefixes=KIND_GROUPS[group][1])
    else:
        rows = tenant_selectors.timeline_rows(tenant=tenant).union(
            health_selectors.business_event_rows(tenant=tenant), all=True
        )
    return rows.order_by("-at", "source", "-id")
