"""The built-in escalation rules (CONTRACTS.md → Schedule semantics; seeds 000, 002, 004).

Each rule answers one question for *all* tenants at once: where does my condition hold, and
why? A handful of set-based queries per rule, never a query per tenant. The answer is a
mapping tenant id → Finding (the rationale in words and the facts behind it); alerts.py
turns it into opened and resolved alerts. Churned tenants never alert.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max, Q, Sum
from django.db.models.functions import Coalesce

from billing.plans import money
from billing.selectors import days_past_due, past_due_subscriptions, plan_usage, subscriptions_set_to_cancel
from health.components import NON_USAGE_PREFIXES
from health.ingest import NAME_RE
from health.models import DailyRollup, Event, HealthScore
from health.selectors import Ticket, tenants_with_tickets_since, tickets_of
from onboarding.models import Milestone, MilestoneProgress, TenantOnboarding
from tenants.models import HealthBucket, Tenant

from .models import Route, Severity

Params = dict[str, Any]


@dataclass(frozen=True)
class Finding:
    rationale: str
    facts: dict[str, Any]


@dataclass(frozen=True)
class ParamSpec:
    key: str
    label: str
    kind: str  # "int", "percent", "event"
    default: Any
    minimum: int = 0
    maximum: int = 0

    def clean(self, raw: Any) -> Any:
        """The value, or ValueError naming what is wrong with it."""
        if self.kind == "event":
            value = str(raw).strip()
            if not NAME_RE.match(value):
                raise ValueError(
                    f"“{value}” is not an event name: lower-case letters, digits, “_” and “.”, starting with a letter."
                )
            return value
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise ValueError(f"“{raw}” is not a whole number.") from None
        if not self.minimum <= number <= self.maximum:
            unit = " %" if self.kind == "percent" else ""
            raise ValueError(f"must be from {self.minimum}{unit} to {self.maximum}{unit}, not {number}{unit}.")
        return number


Evaluator = Callable[[Params, datetime], dict[int, Finding]]


@dataclass(frozen=True)
class RuleSpec:
    slug: str
    name: str
    description: str
    severity: str
    route: str
    evaluate: Evaluator
    params: tuple[ParamSpec, ...] = ()
    seed: str = ""  # where the rule comes from
    cleared: str = "the condition no longer holds"  # the reason an alert of it resolves itself
    defaults: Params = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "defaults", {p.key: p.default for p in self.params})

    def clean_params(self, raw: dict[str, Any]) -> tuple[Params, dict[str, str]]:
        """Cleaned parameters and, per parameter, what is wrong with it."""
        cleaned, errors = {}, {}
        for spec in self.params:
            if spec.key not in raw or str(raw[spec.key]).strip() == "":
                errors[spec.key] = f"{spec.label} is required."
                continue
            try:
                cleaned[spec.key] = spec.clean(raw[spec.key])
            except ValueError as exc:
                errors[spec.key] = f"{spec.label}: {exc}"
        unknown = set(raw) - {p.key for p in self.params}
        for key in sorted(unknown):
            errors[key] = f"“{key}” is not a parameter of this rule."
        return cleaned, errors

    def effective(self, stored: Params) -> Params:
        """Stored parameters over the defaults (a parameter added later gets its default)."""
        return {**self.defaults, **{k: v for k, v in stored.items() if k in self.defaults}}


# --- helpers ----------------------------------------------------------------------------------


def _live_tenants() -> Any:
    return Tenant.objects.exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)


def _day(now: datetime) -> Any:
    return now.astimezone(UTC).date()


def _ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 96 else f"{delta.days} days"


def _usage() -> Q:
    q = Q()
    for prefix in NON_USAGE_PREFIXES:
        q &= ~Q(name__startswith=prefix)
    return q


def percentile(values: list[int], pct: float) -> float:
    """Nearest-rank percentile: the smallest value with at least pct % of values at or below."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


# --- the rules --------------------------------------------------------------------------------


def onboarding_incomplete(params: Params, now: datetime) -> dict[int, Finding]:
    hours = params["hours"]
    onboardings = list(
        TenantOnboarding.all_tenants.filter(completed_at__isnull=True, started_at__lte=now - timedelta(hours=hours))
        .exclude(tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .values_list("tenant_id", "template_id", "started_at")
    )
    if not onboardings:
        return {}
    required: dict[int, list[tuple[int, str]]] = {}
    for m in Milestone.objects.filter(template_id__in={o[1] for o in onboardings}, required=True).order_by("position"):
        required.setdefault(m.template_id, []).append((m.id, m.title))
    done = set(
        MilestoneProgress.all_tenants.filter(tenant_id__in=[o[0] for o in onboardings]).values_list(
            "tenant_id", "milestone_id"
        )
    )
    findings = {}
    for tenant_id, template_id, started_at in onboardings:
        open_titles = [title for mid, title in required.get(template_id, []) if (tenant_id, mid) not in done]
        if not open_titles:
            continue
        age = now - started_at
        findings[tenant_id] = Finding(
            rationale=f"required milestones open after {_ago(age)}: {', '.join(t.lower() for t in open_titles)}",
            facts={"hours_since_signup": round(age.total_seconds() / 3600), "open_milestones": open_titles},
        )
    return findings


def no_activity(params: Params, now: datetime) -> dict[int, Finding]:
    since = now - timedelta(days=params["days"])
    rows = (
        _live_tenants()
        # Known to the cockpit for the whole window: an imported customer is not inactive
        # for the days before the cockpit could have seen its events.
        .annotate(known_since=Coalesce("imported_at", "signed_up_at"))
        .filter(known_since__lte=since)
        .filter(Q(last_seen_at__lt=since) | Q(last_seen_at__isnull=True))
        .values_list("id", "last_seen_at", "known_since", "imported_at")
    )
    findings = {}
    for tenant_id, last_seen, known_since, imported_at in rows:
        if last_seen is None:
            since_what = "its import" if imported_at else "signing up"
            why = f"no events since {since_what} {_ago(now - known_since)} ago"
        else:
            why = f"no events for {_ago(now - last_seen)} (last on {last_seen:%-d %b %H:%M} UTC)"
        findings[tenant_id] = Finding(
            rationale=why, facts={"last_event_at": last_seen.isoformat() if last_seen else None}
        )
    return findings


def _last_day_with(event: str) -> Any:
    return (
        DailyRollup.all_tenants.filter(name=event)
        .exclude(tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .values("tenant_id")
        .annotate(last=Max("day"))
        .order_by()
    )


def outreach_idle(params: Params, now: datetime) -> dict[int, Finding]:
    event, days, today = params["event"], params["days"], _day(now)
    # Only tenants that ever sent one: a tenant not using outreach is not idle at it. Whole
    # UTC days without one: the last send's own day does not count.
    rows = _last_day_with(event).filter(last__lt=today - timedelta(days=days))
    return {
        r["tenant_id"]: Finding(
            rationale=f"no {event} for {(today - r['last']).days - 1} days (last on {r['last']:%-d %b})",
            facts={"last_day": r["last"].isoformat(), "days_idle": (today - r["last"]).days - 1},
        )
        for r in rows
    }


def health_critical(params: Params, now: datetime) -> dict[int, Finding]:
    rows = _live_tenants().filter(health_bucket=HealthBucket.CRITICAL).values_list("id", "health_score")
    return {
        tenant_id: Finding(
            rationale=f"health score {score:.0f} is in the critical bucket",
            facts={"health_score": round(score, 1)},
        )
        for tenant_id, score in rows
    }


def health_medium_risk(params: Params, now: datetime) -> dict[int, Finding]:
    """Seed 004's medium-risk band (40–70 by default). Tenants in the critical bucket are left
    to `health_critical` and its recovery play: one protocol at a time."""
    rows = (
        _live_tenants()
        .filter(health_score__gte=params["low"], health_score__lt=params["high"])
        .exclude(health_bucket__in=[HealthBucket.CRITICAL, HealthBucket.NEW])
        .values_list("id", "health_score")
    )
    return {
        tenant_id: Finding(
            rationale=f"health score {score:.0f} is in the medium-risk band ({params['low']}–{params['high'] - 1})",
            facts={"health_score": round(score, 1)},
        )
        for tenant_id, score in rows
    }


def health_drop(params: Params, now: datetime) -> dict[int, Finding]:
    week_ago = _day(now) - timedelta(days=7)
    # A score from the warm-up (`new`) is information, not a baseline to drop from; and a
    # tenant still warming up is not judged at all.
    before = dict(
        HealthScore.all_tenants.filter(day=week_ago, score__gt=0)
        .exclude(bucket=HealthBucket.NEW)
        .values_list("tenant_id", "score")
    )
    if not before:
        return {}
    current = (
        _live_tenants()
        .filter(id__in=list(before), health_score__isnull=False)
        .exclude(health_bucket=HealthBucket.NEW)
        .values_list("id", "health_score")
    )
    findings = {}
    for tenant_id, score in current:
        drop = (before[tenant_id] - score) * 100 / before[tenant_id]
        if drop >= params["percent"]:
            findings[tenant_id] = Finding(
                rationale=f"health score down {drop:.0f} % in a week: {before[tenant_id]:.0f} → {score:.0f}",
                facts={
                    "score_week_ago": round(before[tenant_id], 1),
                    "score": round(score, 1),
                    "drop_pct": round(drop),
                },
            )
    return findings


def usage_drop(params: Params, now: datetime) -> dict[int, Finding]:
    # Complete UTC days only: today is still filling up and would look like a drop every morning.
    today = _day(now)
    this_week = Q(day__gte=today - timedelta(days=7))
    rows = (
        DailyRollup.all_tenants.filter(day__gte=today - timedelta(days=14), day__lt=today)
        .filter(_usage())
        .exclude(tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .values("tenant_id")
        .annotate(current=Sum("count", filter=this_week, default=0), previous=Sum("count", filter=~this_week))
        .filter(previous__gte=params["min_events"])
        .order_by()
    )
    findings = {}
    for r in rows:
        drop = (r["previous"] - r["current"]) * 100 / r["previous"]
        if drop >= params["percent"]:
            findings[r["tenant_id"]] = Finding(
                rationale=f"usage down {drop:.0f} % week over week: {r['previous']} → {r['current']} events",
                facts={
                    "events_previous_week": r["previous"],
                    "events_last_week": r["current"],
                    "drop_pct": round(drop),
                },
            )
    return findings


def error_spike(params: Params, now: datetime) -> dict[int, Finding]:
    event, days, today = params["event"], params["days"], _day(now)
    yesterday = today - timedelta(days=1)
    rows = (
        DailyRollup.all_tenants.filter(name=event, day__gte=today - timedelta(days=days + 1), day__lte=today)
        .exclude(tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .values_list("tenant_id", "day", "count")
    )
    history: dict[int, dict[Any, int]] = {}
    for tenant_id, day, count in rows:
        history.setdefault(tenant_id, {})[day] = count
    findings = {}
    for tenant_id, by_day in history.items():
        # Today so far, or yesterday when it was higher: a spike late in the day does not
        # "clear" at midnight just because the new day has barely begun.
        count, which = max((by_day.get(today, 0), "today"), (by_day.get(yesterday, 0), "yesterday"))
        if count < params["min_count"]:
            continue
        # The days before those two; days without the event count as zero (a rare erring
        # tenant has a p95 of 0).
        past = [by_day.get(today - timedelta(days=d), 0) for d in range(2, days + 2)]
        p = percentile(past, params["percentile"])
        if count > p:
            findings[tenant_id] = Finding(
                rationale=f"{count} {event} {which} (UTC), above the {days}-day p{params['percentile']} of {p:g}",
                facts={which: count, "percentile_value": p},
            )
    return findings


def nps_detractor(params: Params, now: datetime) -> dict[int, Finding]:
    since = now - timedelta(days=params["days"])
    # Responses are rare: the rollups name the few tenants that answered, then their events.
    candidates = list(
        DailyRollup.all_tenants.filter(name="nps.submitted", day__gte=_day(since))
        .exclude(tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    if not candidates:
        return {}
    latest: dict[int, tuple[datetime, Any, dict]] = {}
    events = Event.all_tenants.filter(tenant_id__in=candidates, name="nps.submitted", occurred_at__gte=since)
    for tenant_id, at, props in events.values_list("tenant_id", "occurred_at", "properties").order_by("occurred_at"):
        if isinstance(props.get("score"), (int, float)):
            latest[tenant_id] = (at, props["score"], props)  # ordered: the last answer wins
    findings = {}
    for tenant_id, (at, score, props) in latest.items():
        if score <= params["max_score"]:
            comment = str(props.get("comment", ""))[:120]
            findings[tenant_id] = Finding(
                rationale=f"NPS {score:g} on {at:%-d %b}" + (f": “{comment}”" if comment else ""),
                facts={"score": score, "answered_at": at.isoformat(), "comment": comment},
            )
    return findings


def subscription_past_due(params: Params, now: datetime) -> dict[int, Finding]:
    findings: dict[int, Finding] = {}
    for subscription in past_due_subscriptions():
        invoice = subscription.latest_invoice
        days = days_past_due(subscription, now)
        parts = [f"{subscription.get_status_display()} for {days} day{'s' if days != 1 else ''}"]
        facts: dict[str, Any] = {
            "subscription": subscription.stripe_id,
            "status": subscription.status,
            "past_due_since": subscription.past_due_since.isoformat() if subscription.past_due_since else None,
            "mrr_cents": subscription.list_mrr_cents,
        }
        if invoice is not None:
            parts.append(f"{money(invoice.amount_remaining_cents, invoice.currency)} due")
            parts.append(f"attempt {invoice.attempt_count}")
            if invoice.next_payment_attempt:
                parts.append(f"next retry {invoice.next_payment_attempt:%-d %b}")
            facts |= {"amount_due_cents": invoice.amount_remaining_cents, "attempt_count": invoice.attempt_count}
        findings.setdefault(subscription.tenant_id, Finding(rationale=", ".join(parts), facts=facts))
    return findings


def expansion_signal(params: Params, now: datetime) -> dict[int, Finding]:
    findings: dict[int, Finding] = {}
    for tenant_id, usage in plan_usage(now=now).items():
        if usage.percent >= params["percent"]:
            findings[tenant_id] = Finding(
                rationale=f"{usage.used:,} of {usage.limit:,} {settings.BILLING_USAGE_EVENT} in {usage.days} days "
                f"({usage.percent:.0f} % of the {usage.plan} plan)",
                facts={
                    "used": usage.used,
                    "limit": usage.limit,
                    "percent": round(usage.percent, 1),
                    "plan": usage.plan,
                },
            )
    return findings


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{delta.total_seconds() / 60:.0f} min"


def _open_tickets(days: int, now: datetime) -> tuple[dict[int, dict[str, Ticket]], dict[int, str]]:
    """Tickets opened in the last `days` days of live tenants that have any, and their plans."""
    since = now - timedelta(days=days)
    candidates = tenants_with_tickets_since(day=_day(since))
    if not candidates:
        return {}, {}
    plans = dict(_live_tenants().filter(id__in=candidates).values_list("id", "plan"))
    return tickets_of(tenant_ids=list(plans), since=since), plans


def support_sla_breach(params: Params, now: datetime) -> dict[int, Finding]:
    tickets, plans = _open_tickets(params["days"], now)
    findings: dict[int, Finding] = {}
    for tenant_id, by_id in tickets.items():
        first_hours, resolve_hours = settings.SUPPORT_SLA_HOURS.get(plans[tenant_id], (4, 24))
        late: list[tuple[datetime, str, str]] = []  # (deadline, ticket id, what is late)
        for ticket in by_id.values():
            if ticket.resolved_at is not None or ticket.opened_at is None:
                continue
            age = now - ticket.opened_at
            first_due = ticket.opened_at + timedelta(hours=first_hours)
            resolve_due = ticket.opened_at + timedelta(hours=resolve_hours)
            if ticket.first_response_at is None and now > first_due:
                what = f"no first response after {_hours(age)} (target {first_hours} h)"
                late.append((first_due, ticket.ticket_id, f"{ticket.priority}, {what}"))
            elif now > resolve_due:
                what = f"not resolved after {_hours(age)} (target {resolve_hours} h)"
                late.append((resolve_due, ticket.ticket_id, f"{ticket.priority}, {what}"))
        if late:
            late.sort()
            _, ticket_id, what = late[0]
            more = f" and {len(late) - 1} more" if len(late) > 1 else ""
            findings[tenant_id] = Finding(
                rationale=f"Ticket {ticket_id} ({what}){more} on the {plans[tenant_id]} plan",
                facts={"tickets": [t for _, t, _ in late], "plan": plans[tenant_id]},
            )
    return findings


def negative_sentiment(params: Params, now: datetime) -> dict[int, Finding]:
    tickets, _ = _open_tickets(params["days"], now)
    threshold = params["sentiment"] / 100
    findings: dict[int, Finding] = {}
    for tenant_id, by_id in tickets.items():
        unhappy = sorted(
            (
                t
                for t in by_id.values()
                if t.resolved_at is None and t.sentiment is not None and t.sentiment <= threshold
            ),
            key=lambda t: (t.sentiment, t.opened_at),
        )
        if unhappy:
            worst = unhappy[0]
            tags = f" about {', '.join(worst.tags)}" if worst.tags else ""
            findings[tenant_id] = Finding(
                rationale=f"Ticket {worst.ticket_id}{tags}, opened {worst.opened_at:%-d %b %H:%M} UTC, "
                f"sentiment {worst.sentiment:+.1f}"
                + (f" ({len(unhappy)} such tickets open)" if len(unhappy) > 1 else ""),
                facts={"tickets": [t.ticket_id for t in unhappy], "sentiment": worst.sentiment},
            )
    return findings


def cancellation_intent(params: Params, now: datetime) -> dict[int, Finding]:
    findings: dict[int, Finding] = {}
    for subscription in subscriptions_set_to_cancel():
        ends = subscription.cancel_at or subscription.current_period_end
        when = f"on {ends:%-d %b %Y}" if ends else "at the end of its period"
        findings.setdefault(
            subscription.tenant_id,
            Finding(
                rationale=f"The {subscription.plan_name} subscription is set to cancel {when}: start the save play",
                facts={"subscription": subscription.stripe_id, "ends": ends.isoformat() if ends else None},
            ),
        )
    return findings


DAYS = ParamSpec("days", "Days", "int", 7, 1, 365)

RULES: dict[str, RuleSpec] = {
    spec.slug: spec
    for spec in [
        RuleSpec(
            "onboarding_incomplete",
            "Onboarding incomplete",
            "Required onboarding milestones still open some hours after signup: escalate to the CS lead, "
            "schedule a screenshare and complete setup live.",
            Severity.P2,
            Route.CS_LEAD,
            onboarding_incomplete,
            (ParamSpec("hours", "Hours after signup", "int", 72, 1, 2160),),
            seed="000 Escalation Triggers; 002 stalled onboarding > 72 h",
            cleared="every required onboarding milestone is done",
        ),
        RuleSpec(
            "no_activity",
            "No activity",
            "No events at all for some days: verify the integration, run a test, notify the owner.",
            Severity.P2,
            Route.CSM,
            no_activity,
            (DAYS,),
            seed="000 No calls in last 7 days",
            cleared="events arrive again",
        ),
        RuleSpec(
            "outreach_idle",
            "Outreach idle",
            "A tenant that sends outreach has sent none for some days: audit sequences, deliverability "
            "and credentials; reset throttles.",
            Severity.P3,
            Route.CSM,
            outreach_idle,
            (DAYS, ParamSpec("event", "Event name", "event", "outreach.sent")),
            seed="000 Outreach idle > 7 days",
            cleared="outreach is being sent again",
        ),
        RuleSpec(
            "subscription_past_due",
            "Subscription past due",
            "The subscription is past due or unpaid: billing ops act at once; dunning email and SMS with the "
            "customer portal link.",
            Severity.P1,
            Route.BILLING_OPS,
            subscription_past_due,
            seed="000 Subscription inactive/past due; 004 payment failure",
            cleared="the subscription is paid",
        ),
        RuleSpec(
            "health_critical",
            "Health critical",
            "The health score fell into the critical bucket: the high-risk protocol (personal email within "
            "2 hours, a success call within 24).",
            Severity.P2,
            Route.CSM,
            health_critical,
            seed="004 High-risk customer protocol",
            cleared="the health score left the critical bucket",
        ),
        RuleSpec(
            "health_medium_risk",
            "Health medium risk",
            "The health score is in seed 004's medium-risk band: proactive outreach — tips, an "
            "optimisation guide, peers' success stories — before it turns critical.",
            Severity.P3,
            Route.CSM,
            health_medium_risk,
            (
                ParamSpec("low", "Score from", "int", 40, 0, 100),
                ParamSpec("high", "Score below", "int", 70, 1, 100),
            ),
            seed="004 Medium-risk customer protocol (health 40–70)",
            cleared="the health score left the band (or turned critical: the recovery play takes over)",
        ),
        RuleSpec(
            "health_drop",
            "Health drop",
            "The health score is down a share week over week.",
            Severity.P2,
            Route.CSM,
            health_drop,
            (ParamSpec("percent", "Drop of at least", "percent", 20, 1, 100),),
            seed="002 At-risk drop ≥ 20 % week-over-week",
            cleared="the health score is no longer down that much on a week ago",
        ),
        RuleSpec(
            "usage_drop",
            "Usage drop",
            "Usage events in the last 7 complete days are down a share on the 7 before.",
            Severity.P2,
            Route.CSM,
            usage_drop,
            (
                ParamSpec("percent", "Drop of at least", "percent", 50, 1, 100),
                ParamSpec("min_events", "Only with at least this many events the week before", "int", 20, 1, 1_000_000),
            ),
            seed="004 usage drop of 50 %",
            cleared="usage is no longer down that much week over week",
        ),
        RuleSpec(
            "error_spike",
            "Error spike",
            "Today's (or yesterday's) count of an error event is above its percentile over the days before.",
            Severity.P2,
            Route.CSM,
            error_spike,
            (
                ParamSpec("event", "Event name", "event", "error.raised"),
                ParamSpec("days", "Days of history", "int", 28, 7, 90),
                ParamSpec("percentile", "Percentile", "percent", 95, 50, 100),
                ParamSpec("min_count", "Only with at least this many today", "int", 5, 1, 1_000_000),
            ),
            seed="002 error spike > p95",
            cleared="today's errors are back within the usual range",
        ),
        RuleSpec(
            "nps_detractor",
            "NPS detractor",
            "The latest NPS answer in the window is a detractor score.",
            Severity.P3,
            Route.CSM,
            nps_detractor,
            (
                ParamSpec("max_score", "Detractor at or below", "int", 6, 0, 10),
                ParamSpec("days", "Answers of the last days", "int", 30, 1, 365),
            ),
            seed="004 sentiment",
            cleared="no detractor answer in the window any more",
        ),
        RuleSpec(
            "support_sla_breach",
            "Support SLA breach",
            "An open ticket is past its plan's first-response or resolution target (SUPPORT_SLA_*).",
            Severity.P2,
            Route.CSM,
            support_sla_breach,
            (ParamSpec("days", "Tickets opened in the last days", "int", 30, 1, 365),),
            seed="001 support tiers and response times",
            cleared="every open ticket is within its targets (answered, resolved or not yet due)",
        ),
        RuleSpec(
            "negative_sentiment",
            "Negative support sentiment",
            "An open ticket was raised with negative sentiment: the CS lead hears of it.",
            Severity.P2,
            Route.CS_LEAD,
            negative_sentiment,
            (
                ParamSpec("sentiment", "Sentiment at or below (−100 to 100)", "int", -50, -100, 100),
                ParamSpec("days", "Tickets opened in the last days", "int", 14, 1, 365),
            ),
            seed="004 a support ticket with negative sentiment notifies the manager",
            cleared="the unhappy ticket was resolved or is older than the window",
        ),
        RuleSpec(
            "cancellation_intent",
            "Cancellation intent",
            "A subscription is set to cancel at the end of its period: run the save play before it ends.",
            Severity.P1,
            Route.CSM,
            cancellation_intent,
            seed="004 cancellation intent detected",
            cleared="the cancellation was withdrawn, or the subscription ended",
        ),
        RuleSpec(
            "expansion_signal",
            "Expansion signal",
            "Usage reaches a share of the plan's limit: hand over to sales with an upgrade offer.",
            Severity.INFO,
            Route.CSM,
            expansion_signal,
            (ParamSpec("percent", "Usage of the plan limit at least", "percent", 80, 1, 1000),),
            seed="004 expansion opportunity identification",
            cleared="usage fell below that share of the plan limit",
        ),
    ]
}
