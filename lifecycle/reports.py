"""The monthly CS report (seed 004's "Customer Success Monthly Report"): trial → paid, churn
by tier, revenue retention and expansion, satisfaction (CSAT, NPS), support SLA attainment
and the customers at risk — for one calendar month (UTC), month to date for the current one.
Each count comes with the rows behind it, which the page lists under the figure's link."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db.models import Q, Sum

from billing.models import Trial
from billing.plans import money
from billing.revenue import MonthRow, revenue_months, tenants_mrr_then_and_now
from health.models import DailyRollup, Event
from health.selectors import tenants_with_tickets_since, tickets_of
from tenants.models import Tenant
from tenants.selectors import month_bounds, tenants_at_risk, tenants_churned_between

from .advocacy import published_between
from .selectors import Pipeline, live_pipeline, opportunities_won_between, won_of

PLANS = [plan for plan, _ in Tenant.Plan.choices]
CHURN_TARGETS = {"starter": 4.0, "professional": 3.0, "business": 2.0}  # seed 004, % a month


def percent(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


@dataclass
class TierChurn:
    plan: str
    live_at_start: int
    churned: int
    mrr_at_start: int = 0  # cents, of the customers the period began with
    mrr_churned: int = 0  # cents: their MRR at the start, of those that churned in the period

    @property
    def mrr_rate(self) -> float | None:
        return percent(self.mrr_churned, self.mrr_at_start)

    @property
    def rate(self) -> float | None:
        return percent(self.churned, self.live_at_start)

    @property
    def target(self) -> float:
        return CHURN_TARGETS.get(self.plan, 3.0)


@dataclass
class MonthlyReport:
    month: date
    start: datetime
    end: datetime  # exclusive; `now` for the current month
    trials_converted: list[Trial]
    trials_lapsed: list[Trial]
    churned: list[Tenant]
    live_at_start: int
    churn_by_tier: list[TierChurn]
    revenue: MonthRow | None
    csat_sum: float
    csat_count: int
    nps_scores: list[tuple[Tenant, float, datetime]]
    sla_within: int
    sla_due: int
    high_risk: list[Tenant]
    medium_risk: int
    won: Pipeline  # expansion opportunities won in the period and the MRR they added
    pipeline: Pipeline  # open or proposed now, and the MRR they would add
    case_studies: list[Tenant] = field(default_factory=list)  # published in the period
    reviews: int = 0  # public reviews published in the period
    notes: list[str] = field(default_factory=list)

    @property
    def trials_ended(self) -> int:
        return len(self.trials_converted) + len(self.trials_lapsed)

    @property
    def trial_conversion(self) -> float | None:
        return percent(len(self.trials_converted), len(self.trials_converted) + len(self.trials_lapsed))

    @property
    def churn_rate(self) -> float | None:
        return percent(len(self.churned), self.live_at_start)

    @property
    def nps_distribution(self) -> list[tuple[int, int]]:
        """(score, answers) for 0–10: the answers behind the NPS, without listing each one."""
        counts = {n: 0 for n in range(11)}
        for _, score, _ in self.nps_scores:
            counts[int(score)] += 1
        return list(counts.items())

    @property
    def csat(self) -> float | None:
        return round(self.csat_sum / self.csat_count, 2) if self.csat_count else None

    @property
    def nps(self) -> int | None:
        """Promoters (9–10) minus detractors (0–6), as a share of the answers."""
        return nps_of([s for _, s, _ in self.nps_scores])

    @property
    def sla_attainment(self) -> float | None:
        return percent(self.sla_within, self.sla_due)

    @property
    def expansion_share(self) -> float | None:
        if self.revenue is None or not self.revenue.end_mrr_cents:
            return None
        return round(self.revenue.expansion_cents * 100 / self.revenue.end_mrr_cents, 1)


def _sla(start: datetime, end: datetime) -> tuple[int, int]:
    """First responses within the plan's target, of the month's tickets that are due (answered,
    or unanswered past the target by the month's end)."""
    candidates = tenants_with_tickets_since(day=start.date())
    if not candidates:
        return 0, 0
    plans = dict(Tenant.objects.filter(id__in=candidates).values_list("id", "plan"))
    within = due = 0
    for tenant_id, tickets in tickets_of(tenant_ids=list(plans), since=start).items():
        first_hours = settings.SUPPORT_SLA_HOURS.get(plans[tenant_id], (4, 24))[0]
        for ticket in tickets.values():
            if ticket.opened_at is None or ticket.opened_at >= end:
                continue
            target = ticket.opened_at + timedelta(hours=first_hours)
            answered = ticket.first_response_at if ticket.first_response_at and ticket.first_response_at < end else None
            if answered is not None:
                due += 1
                within += answered <= target
            elif end > target:
                due += 1  # unanswered past its target: a miss
    return within, due


def monthly_report(*, month: date, now: datetime) -> MonthlyReport:
    start, following = month_bounds(month)
    months_back = (now.year - month.year) * 12 + now.month - month.month + 1
    revenue = revenue_months(now=now, months=months_back)[0] if 1 <= months_back <= 36 else None
    return period_report(start=start, end=min(following, now), revenue=revenue)


def period_report(*, start: datetime, end: datetime, revenue: MonthRow | None) -> MonthlyReport:
    """The report's figures for [start, end): a month, or the weekly dashboard's week."""
    trials = Trial.all_tenants.select_related("tenant").order_by("tenant__name")
    converted = list(trials.filter(converted_at__gte=start, converted_at__lt=end))
    lapsed = list(trials.filter(lapsed_at__gte=start, lapsed_at__lt=end))
    # Churn counts the customers the period started with: one that signed up and left within
    # it is not in the denominator, so it is not in the numerator either.
    live = Tenant.objects.filter(signed_up_at__lt=start).filter(Q(churned_at__isnull=True) | Q(churned_at__gte=start))
    # The same Q as the tenant list's churned filter that the monthly figure opens.
    churned = list(tenants_churned_between(Tenant.objects.all(), start, end).only("id", "plan"))
    live_plans = dict(live.values_list("id", "plan"))
    live_by_plan = {plan: sum(1 for p in live_plans.values() if p == plan) for plan in PLANS}
    # MRR churn by tier: each customer's MRR at the period's start (the Stripe mirror's
    # history), and of it the part of those that churned in the period.
    mrr_at_start = {
        tenant_id: then
        for tenant_id, (then, _) in tenants_mrr_then_and_now(starts=dict.fromkeys(live_plans, start), now=end).items()
    }
    churned_ids = {t.pk for t in churned}
    tiers = [
        TierChurn(
            plan,
            live_by_plan[plan],
            sum(1 for t in churned if t.plan == plan),
            sum(mrr for tid, mrr in mrr_at_start.items() if live_plans[tid] == plan),
            sum(mrr for tid, mrr in mrr_at_start.items() if live_plans[tid] == plan and tid in churned_ids),
        )
        for plan in PLANS
    ]
    last_day = (end - timedelta(microseconds=1)).date()  # rollups are by UTC day
    csat = DailyRollup.all_tenants.filter(name="csat.submitted", day__gte=start.date(), day__lte=last_day)
    totals = csat.aggregate(total=Sum("value_sum"), n=Sum("value_count"))
    nps = [
        (event.tenant, float(event.properties["score"]), event.occurred_at)
        for event in Event.all_tenants.filter(name="nps.submitted", occurred_at__gte=start, occurred_at__lt=end)
        .select_related("tenant")
        .order_by("occurred_at")
        if isinstance(event.properties.get("score"), (int, float))
    ]
    within, due = _sla(start, end)
    high = list(tenants_at_risk(Tenant.objects.all(), "high").only("id", "name").order_by("health_score", "name"))
    medium = tenants_at_risk(Tenant.objects.all(), "medium").count()
    won = won_of(opportunities_won_between(start, end))
    return MonthlyReport(
        month=start.date(),
        start=start,
        end=end,
        trials_converted=converted,
        trials_lapsed=lapsed,
        churned=churned,
        live_at_start=sum(live_by_plan.values()),
        churn_by_tier=tiers,
        revenue=revenue,
        csat_sum=float(totals["total"] or 0),
        csat_count=int(totals["n"] or 0),
        nps_scores=nps,
        sla_within=within,
        sla_due=due,
        high_risk=high,
        medium_risk=medium,
        won=won,
        pipeline=live_pipeline(csm=""),
        case_studies=[ask.tenant for ask in published_between(kind="case_study", start=start, end=end)],
        reviews=published_between(kind="review", start=start, end=end).count(),
    )


def _fmt(value: float | int | None, unit: str = " %") -> str:
    return "—" if value is None else f"{value:g}{unit}"


def _ratio(value: float | None) -> float | None:
    return round(value * 100, 1) if value is not None else None


def report_rows(report: MonthlyReport) -> list[tuple[str, str, str]]:
    """(metric, value, target) in the report's order: the CSV download."""
    revenue = report.revenue
    rows = [
        ("Trial → paid conversion", _fmt(report.trial_conversion), "25 %"),
        ("Trials converted", str(len(report.trials_converted)), ""),
        ("Trials lapsed", str(len(report.trials_lapsed)), ""),
        ("Monthly churn rate (customers)", _fmt(report.churn_rate), "< 3 %"),
        ("Customers at the month's start", str(report.live_at_start), ""),
        ("Customers churned", str(len(report.churned)), ""),
    ]
    rows += [(f"Churn, {t.plan}", _fmt(t.rate), f"< {t.target:g} %") for t in report.churn_by_tier]
    rows += [(f"MRR churn, {t.plan}", _fmt(t.mrr_rate), "") for t in report.churn_by_tier]
    rows += [
        ("Net revenue retention", _fmt(_ratio(revenue.nrr) if revenue else None), "> 110 %"),
        ("Gross revenue retention", _fmt(_ratio(revenue.grr) if revenue else None), ""),
        ("Expansion MRR", money(revenue.expansion_cents) if revenue else "—", ""),
        ("Expansion share of MRR at the month's end", _fmt(report.expansion_share), ""),
        ("Expansion opportunities won", str(report.won.count), ""),
        ("MRR added by opportunities won", money(report.won.mrr_cents), ""),
        ("Expansion pipeline now (open or proposed)", str(report.pipeline.count), ""),
        ("Expansion pipeline MRR now", money(report.pipeline.mrr_cents), ""),
        ("Case studies published", str(len(report.case_studies)), ""),
        ("Public reviews published", str(report.reviews), ""),
        ("CSAT", _fmt(report.csat, "/5"), "> 4.5/5"),
        ("CSAT responses", str(report.csat_count), ""),
        ("NPS", _fmt(report.nps, ""), ""),
        ("NPS answers", str(len(report.nps_scores)), ""),
        ("First responses within the support target", _fmt(report.sla_attainment), ""),
        ("High-risk customers (health < 40)", str(len(report.high_risk)), ""),
        ("Medium-risk customers (health 40–69)", str(report.medium_risk), ""),
    ]
    return rows


def report_csv(report: MonthlyReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["month", "metric", "value", "target"])
    for metric, value, target in report_rows(report):
        writer.writerow([f"{report.month:%Y-%m}", metric, value, target])
    return out.getvalue()


def report_markdown(report: MonthlyReport) -> str:
    """Seed 004's "Customer Success Monthly Report" layout, filled in."""
    revenue = report.revenue
    ended = len(report.trials_converted) + len(report.trials_lapsed)
    whole_month = report.end == month_bounds(report.month)[1]
    upto = "" if whole_month else f" (to {report.end:%-d %b %H:%M} UTC)"
    nrr = _fmt(_ratio(revenue.nrr) if revenue else None)
    expansion = money(revenue.expansion_cents) if revenue else "—"
    risky = ", ".join(t.name for t in report.high_risk[:20])
    lines = [
        f"## Customer Success Monthly Report — {report.month:%B %Y}{upto}",
        "",
        "### Key Metrics Performance",
        f"- **Trial → Paid Conversion:** {_fmt(report.trial_conversion)} (Target: 25%)"
        f" — {len(report.trials_converted)} of {ended} trials that ended",
        f"- **Monthly Churn Rate:** {_fmt(report.churn_rate)} (Target: <3%)"
        f" — {len(report.churned)} of {report.live_at_start} customers",
        f"- **Net Revenue Retention:** {nrr} (Target: >110%)",
        f"- **Customer Satisfaction:** {_fmt(report.csat, '/5')} (Target: >4.5) — {report.csat_count} responses",
        f"- **NPS:** {_fmt(report.nps, '')} — {len(report.nps_scores)} answers",
        f"- **Support:** {_fmt(report.sla_attainment)} of first responses within target"
        f" ({report.sla_within} of {report.sla_due})",
        "",
        "### Churn by tier",
        *[
            f"- {t.plan.title()}: {_fmt(t.rate)} ({t.churned} of {t.live_at_start}; target <{t.target:g}%);"
            f" MRR churn {_fmt(t.mrr_rate)} ({money(t.mrr_churned)} of {money(t.mrr_at_start)})"
            for t in report.churn_by_tier
        ],
        "",
        "### Expansion Revenue",
        f"- **Expansion Revenue This Month:** {expansion} of MRR ({_fmt(report.expansion_share)} of MRR at its end)",
        f"- **Upsells Won:** {report.won.count} (+{money(report.won.mrr_cents)} MRR)",
        f"- **Pipeline:** {report.pipeline.count} open or proposed, +{money(report.pipeline.mrr_cents)} MRR if won",
        "",
        "### Customer Success Stories",
        f"- **Case studies published:** {len(report.case_studies)}"
        + (f" ({', '.join(t.name for t in report.case_studies)})" if report.case_studies else ""),
        f"- **Public reviews published:** {report.reviews}",
        "",
        "### Action Items & Risks",
        f"- **High-Risk Customers:** {len(report.high_risk)} (health below 40)" + (f": {risky}" if risky else ""),
        f"- **Medium-Risk Customers:** {report.medium_risk} (health 40–69)",
        "",
    ]
    return "\n".join(lines)


# --- The weekly dashboard (seed 004: trial → paid, churn by tier, health distribution, NPS by
# tier, expansion opportunities) ------------------------------------------------------------


def week_bounds(monday: date) -> tuple[datetime, datetime]:
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return start, start + timedelta(days=7)


@dataclass(frozen=True)
class TierNps:
    plan: str
    answers: int
    nps: int | None


def nps_of(scores: list[float]) -> int | None:
    if not scores:
        return None
    promoters, detractors = sum(s >= 9 for s in scores), sum(s <= 6 for s in scores)
    return round((promoters - detractors) * 100 / len(scores))


def nps_by_tier(report: MonthlyReport) -> list[TierNps]:
    return [
        TierNps(plan, len(scores), nps_of(scores))
        for plan in PLANS
        for scores in [[s for tenant, s, _ in report.nps_scores if tenant.plan == plan]]
    ]
