"""Cohorts (issue 16 §8): customers grouped by signup month, plan, segment or onboarding
path, and for each group the share still a customer N months after signing up, the median
days to first value, and net revenue retention (MRR now over MRR a month after signup, past
the trial, of the same tenants).

Retention after N months counts only the tenants whose N months have passed: a tenant that
signed up six weeks ago is in the 1-month figure, not yet in the 2-month one. A tenant
counts as retained after N months when it had not churned by then (a churned tenant that
came back is counted by its latest churn date, like the tenant list).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median

from billing.revenue import tenants_mrr_then_and_now
from onboarding.models import TenantOnboarding
from onboarding.selectors import days_to_first_value
from tenants.models import Tenant

from .reports import percent

HORIZONS = (1, 2, 3, 6, 9, 12)  # months after signup
WINDOW_MONTHS = 12  # signups of the last 12 months (and this one)
GROUPINGS = {
    "month": "Signup month",
    "plan": "Plan",
    "segment": "Segment",
    "path": "Onboarding path",
}
FIRST_PAID = timedelta(days=30)  # past the trial: the MRR a cohort's NRR starts from


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later; the month's last day where that day is missing."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    last = (following - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last))


@dataclass(frozen=True)
class Retention:
    months: int
    eligible: int  # tenants whose N months have passed
    retained: int

    @property
    def rate(self) -> float | None:
        return percent(self.retained, self.eligible)

    @property
    def heat(self) -> int:
        """0–10, the cell's shade on the page."""
        return round(self.rate / 10) if self.rate is not None else 0


@dataclass
class Cohort:
    key: str
    label: str
    size: int = 0
    retention: list[Retention] = field(default_factory=list)
    first_value_days: float | None = None
    first_value_reached: int = 0
    mrr_start_cents: int = 0
    mrr_now_cents: int = 0

    @property
    def short_label(self) -> str:
        """What fits under a chart's column: "08/26" for a month, else the label's start."""
        if len(self.key) == 7 and self.key[4] == "-":
            return f"{self.key[5:]}/{self.key[2:4]}"
        return self.label[:8]

    @property
    def nrr(self) -> float | None:
        return percent(self.mrr_now_cents, self.mrr_start_cents)


@dataclass(frozen=True)
class _Member:
    tenant: Tenant
    group: str
    label: str


def _window_start(now: datetime) -> datetime:
    return add_months(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), -WINDOW_MONTHS)


def _members(by: str, now: datetime) -> list[_Member]:
    tenants = Tenant.objects.filter(signed_up_at__gte=_window_start(now), signed_up_at__lte=now).order_by(
        "signed_up_at"
    )
    paths = {}
    if by == "path":
        paths = dict(TenantOnboarding.all_tenants.filter(tenant__in=tenants).values_list("tenant_id", "template__name"))
    found = []
    for tenant in tenants.only("id", "signed_up_at", "churned_at", "plan", "segment"):
        if by == "month":
            key, label = f"{tenant.signed_up_at:%Y-%m}", f"{tenant.signed_up_at:%b %Y}"
        elif by == "plan":
            key, label = tenant.plan, tenant.get_plan_display()
        elif by == "segment":
            key, label = tenant.segment or "", tenant.segment or "No segment"
        else:
            name = paths.get(tenant.pk)
            key, label = name or "", name or "No onboarding checklist"
        found.append(_Member(tenant, key, label))
    return found


def cohorts(*, by: str, now: datetime) -> list[Cohort]:
    """The groups of `by` (a key of GROUPINGS) of the last 12 months' signups."""
    members = _members(by, now)
    groups: dict[str, Cohort] = {}
    tenants_of: dict[str, list[Tenant]] = defaultdict(list)
    for member in members:
        groups.setdefault(member.group, Cohort(member.group, member.label))
        tenants_of[member.group].append(member.tenant)
    ids = [m.tenant.pk for m in members]
    first_values = {
        tenant_id: days_to_first_value(started_at=started, first_value_at=reached)
        for tenant_id, started, reached in TenantOnboarding.all_tenants.filter(
            tenant_id__in=ids, first_value_at__isnull=False
        ).values_list("tenant_id", "started_at", "first_value_at")
    }
    # MRR a month after signup (past the trial) and now, of tenants whose first month passed.
    starts = {
        m.tenant.pk: m.tenant.signed_up_at + FIRST_PAID for m in members if m.tenant.signed_up_at + FIRST_PAID <= now
    }
    mrr = tenants_mrr_then_and_now(starts=starts, now=now)
    for key, cohort in groups.items():
        tenants = tenants_of[key]
        cohort.size = len(tenants)
        for months in HORIZONS:
            due = [t for t in tenants if add_months(t.signed_up_at, months) <= now]
            kept = [t for t in due if t.churned_at is None or t.churned_at > add_months(t.signed_up_at, months)]
            cohort.retention.append(Retention(months, len(due), len(kept)))
        days = [first_values[t.pk] for t in tenants if t.pk in first_values]
        cohort.first_value_days = round(median(days), 1) if days else None
        cohort.first_value_reached = len(days)
        for tenant in tenants:
            then, current = mrr.get(tenant.pk, (0, 0))
            cohort.mrr_start_cents += then
            cohort.mrr_now_cents += current if then else 0  # NRR follows the revenue a cohort started with
    ordered = sorted(groups.values(), key=lambda c: c.key, reverse=by == "month")
    return ordered
