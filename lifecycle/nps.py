"""NPS by month, plan and segment (issue 16 §2): the answers of the last twelve months per
calendar month (UTC), and of the last 90 days per plan and per segment — promoters (9–10),
passives (7–8), detractors (0–6) and the NPS (promoters minus detractors, as a share)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from health.models import DailyRollup, Event
from tenants.models import Tenant

from .cohorts import add_months
from .reports import nps_of

RECENT = timedelta(days=90)


@dataclass(frozen=True)
class NpsRow:
    label: str
    scores: tuple[float, ...]

    @property
    def answers(self) -> int:
        return len(self.scores)

    @property
    def promoters(self) -> int:
        return sum(s >= 9 for s in self.scores)

    @property
    def passives(self) -> int:
        return sum(7 <= s < 9 for s in self.scores)

    @property
    def detractors(self) -> int:
        return sum(s <= 6 for s in self.scores)

    @property
    def nps(self) -> int | None:
        return nps_of(list(self.scores))


@dataclass(frozen=True)
class NpsBreakdown:
    by_month: list[NpsRow]  # oldest first, the current month to date
    by_plan: list[NpsRow]  # last 90 days
    by_segment: list[NpsRow]  # last 90 days


def nps_breakdown(*, now: datetime) -> NpsBreakdown:
    first = add_months(datetime(now.year, now.month, 1, tzinfo=now.tzinfo), -11)
    # The rollups' (name, tenant, day) index names the tenants that answered; their events are
    # then read through the (tenant, occurred_at) index.
    answered = DailyRollup.all_tenants.filter(name="nps.submitted", day__gte=first.date()).values("tenant_id")
    events = Event.all_tenants.filter(
        tenant_id__in=answered, name="nps.submitted", occurred_at__gte=first, occurred_at__lte=now
    ).values_list("tenant_id", "occurred_at", "properties")
    tenants = dict(Tenant.objects.filter(id__in=answered).values_list("id", "plan"))
    segments = dict(Tenant.objects.filter(id__in=answered).values_list("id", "segment"))
    months: dict[date, list[float]] = defaultdict(list)
    plans: dict[str, list[float]] = defaultdict(list)
    by_segment: dict[str, list[float]] = defaultdict(list)
    for tenant_id, at, properties in events:
        score = properties.get("score") if isinstance(properties, dict) else None
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            continue
        months[at.date().replace(day=1)].append(float(score))
        if at >= now - RECENT:
            plans[tenants[tenant_id]].append(float(score))
            by_segment[segments[tenant_id] or ""].append(float(score))
    month_rows, month = [], first.date()
    while month <= now.date():
        month_rows.append(NpsRow(f"{month:%b %Y}", tuple(months.get(month, ()))))
        month = (month + timedelta(days=32)).replace(day=1)
    return NpsBreakdown(
        by_month=month_rows,
        by_plan=[NpsRow(label, tuple(plans.get(plan, ()))) for plan, label in Tenant.Plan.choices],
        by_segment=[NpsRow(key or "No segment", tuple(scores)) for key, scores in sorted(by_segment.items())],
    )
