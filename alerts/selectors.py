"""Reads for alerts: the queue with its filters, who may see which alert, the SLA outcome of
each alert and the weekly attainment, the export rows and the digests' contents."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, Count, F, IntegerField, Max, Q, QuerySet, Value, When
from django.http import Http404

from core.roles import StaffRole, staff_roles_of
from health.models import HealthScore
from tenants.models import Tenant
from tenants.selectors import tenants_visible_to_key
from tenants.validators import parse_id

from .hooks import digest_sections
from .models import ACTIVE_STATUSES, SEVERITY_ORDER, Alert, AlertRule, Route
from .rules import RULES

# Billing ops work billing alerts only; the other roles see every queue.
ROUTES_OF_ROLE = {
    StaffRole.BILLING_OPS: {Route.BILLING_OPS},
    StaffRole.CSM: set(Route.values),
    StaffRole.CS_LEAD: set(Route.values),
    StaffRole.ADMIN: set(Route.values),
}


def routes_visible_to(user: AbstractBaseUser) -> set[str]:
    routes: set[str] = set()
    for role in staff_roles_of(user):
        routes |= ROUTES_OF_ROLE.get(role, set())
    return routes


def alerts_visible_to(user: AbstractBaseUser) -> QuerySet[Alert]:
    """Fails closed: a user with no route sees nothing."""
    return Alert.all_tenants.filter(route__in=sorted(routes_visible_to(user)))


def alert_get_for_staff(*, user: AbstractBaseUser, alert_id: int) -> Alert:
    alert = alerts_visible_to(user).select_related("tenant", "rule", "assignee").filter(id=alert_id).first()
    if alert is None:
        raise Http404("No such alert.")
    return alert


SLA_STATES = {"breached": "Breached", "due_soon": "Due within 30 min", "within": "Within SLA", "met": "Met"}


def sla_state(alert: Alert, now: datetime) -> str:
    """met / breached / due_soon / within / "" (no SLA)."""
    if alert.sla_due_at is None:
        return ""
    if alert.acknowledged_at is None and alert.resolved_at is not None and alert.sla_breached_at is None:
        # Resolved by its condition clearing before anyone had to answer it.
        return "met" if alert.resolved_at <= alert.sla_due_at else "breached"
    if alert.acknowledged_at is not None:
        return "met" if alert.acknowledged_at <= alert.sla_due_at else "breached"
    if alert.sla_breached_at is not None or alert.sla_due_at <= now:
        return "breached"
    return "due_soon" if alert.sla_due_at - now <= timedelta(minutes=30) else "within"


@dataclass(frozen=True)
class QueueFilters:
    status: str = "active"
    severity: str = ""
    rule: str = ""
    route: str = ""
    assignee: str = ""  # "", "me", "none" or a user id
    sla: str = ""
    tenant: str = ""
    sort: str = "urgent"


STATUS_FILTERS = {"active": "Open, acknowledged or snoozed", **{s.value: s.label for s in Alert.Status}, "all": "All"}


# The queue's orders; every one ends on the id, so pages neither repeat nor skip a row.
QUEUE_SORTS = {
    "urgent": "Most urgent first",
    "sla": "SLA running out first",
    "newest": "Newest first",
    "oldest": "Oldest first",
}


def queue_filters_from(params: Any, *, user: AbstractBaseUser) -> tuple[QueueFilters, list[str]]:
    """Filters from a query string; unknown values are dropped with a message each."""
    errors = []
    allowed = {
        "status": set(STATUS_FILTERS),
        "severity": set(SEVERITY_ORDER),
        "rule": set(RULES),
        "route": routes_visible_to(user),
        "sla": set(SLA_STATES),
        "sort": set(QUEUE_SORTS),
    }
    values: dict[str, str] = {}
    for key, options in allowed.items():
        raw = params.get(key, "")
        if raw and raw not in options:
            errors.append(f"“{raw}” is not a {key} filter; it was ignored.")
        elif raw:
            values[key] = raw
    assignee = params.get("assignee", "")
    if assignee and assignee not in ("me", "none") and parse_id(assignee) is None:
        errors.append(f"“{assignee}” is not an assignee filter; it was ignored.")
    elif assignee:
        values["assignee"] = assignee
    if params.get("tenant"):
        values["tenant"] = params["tenant"][:64]
    if "route" not in values and routes_visible_to(user) == {Route.BILLING_OPS}:
        values["route"] = Route.BILLING_OPS
    return QueueFilters(**values), errors


def alert_queue(*, user: AbstractBaseUser, filters: QueueFilters, now: datetime) -> QuerySet[Alert]:
    alerts = alerts_visible_to(user).select_related("tenant", "rule", "assignee")
    if filters.status == "active":
        alerts = alerts.filter(status__in=ACTIVE_STATUSES)
    elif filters.status != "all":
        alerts = alerts.filter(status=filters.status)
    if filters.severity:
        alerts = alerts.filter(severity=filters.severity)
    if filters.rule:
        alerts = alerts.filter(rule__slug=filters.rule)
    if filters.route:
        alerts = alerts.filter(route=filters.route)
    if filters.tenant:
        alerts = alerts.filter(tenant__external_id=filters.tenant)
    if filters.assignee == "me":
        alerts = alerts.filter(assignee=user)
    elif filters.assignee == "none":
        alerts = alerts.filter(assignee__isnull=True)
    elif filters.assignee:
        alerts = alerts.filter(assignee_id=int(filters.assignee))
    if filters.sla:
        alerts = alerts.filter(sla_filter(filters.sla, now))
    if filters.sort == "sla":
        return alerts.order_by(F("sla_due_at").asc(nulls_last=True), "opened_at", "id")
    if filters.sort == "newest":
        return alerts.order_by("-opened_at", "-id")
    if filters.sort == "oldest":
        return alerts.order_by("opened_at", "id")
    # Most urgent first: severity, then the SLA that runs out first, then the oldest.
    return alerts.order_by(_severity_rank(), "sla_due_at", "opened_at", "id")


def sla_filter(state: str, now: datetime) -> Q:
    """The queue's SLA filter; the header's "breached" count uses the same Q, so the number
    shown is the number of rows its link lists."""
    soon = now + timedelta(minutes=30)
    unacked = Q(acknowledged_at__isnull=True, status=Alert.Status.OPEN)
    if state == "breached":
        return Q(sla_breached_at__isnull=False) | (unacked & Q(sla_due_at__lte=now)) | Q(acknowledged_at__gt=_due())
    if state == "due_soon":
        return unacked & Q(sla_due_at__gt=now, sla_due_at__lte=soon)
    if state == "within":
        return unacked & Q(sla_due_at__gt=soon)
    return Q(acknowledged_at__lte=_due())  # met


def _due() -> F:
    return F("sla_due_at")


def _severity_rank() -> Case:
    return Case(
        *[When(severity=s, then=Value(rank)) for s, rank in SEVERITY_ORDER.items()], output_field=IntegerField()
    )


# The header's counts and the queue filters each one links to (status "active" unless given).
QUEUE_COUNT_LINKS = {"open": "status=open", "mine": "assignee=me", "breached": "sla=breached", "p1": "severity=P1"}


def queue_counts(*, user: AbstractBaseUser, now: datetime) -> dict[str, int]:
    """The header's counts, each the row count of the queue filtered as QUEUE_COUNT_LINKS says
    (same visibility, same Q)."""
    active = alerts_visible_to(user).filter(status__in=ACTIVE_STATUSES)
    return active.aggregate(
        open=Count("id", filter=Q(status=Alert.Status.OPEN)),
        mine=Count("id", filter=Q(assignee=user)),
        breached=Count("id", filter=sla_filter("breached", now)),
        p1=Count("id", filter=Q(severity="P1")),
    )


def assignable_staff() -> list[AbstractBaseUser]:
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[r.value for r in StaffRole])
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def tenant_alerts(*, tenant: Tenant, user: AbstractBaseUser, limit: int = 10) -> list[Alert]:
    """The tenant page's alerts the user may see, in one query: active ones first (most
    severe first), then the latest resolved."""
    resolved_last = Case(
        When(status=Alert.Status.RESOLVED, then=Value(1)), default=Value(0), output_field=IntegerField()
    )
    return list(
        Alert.objects.for_tenant(tenant)
        .filter(route__in=sorted(routes_visible_to(user)))
        .select_related("rule", "assignee")
        .order_by(resolved_last, _severity_rank(), "-opened_at")[:limit]
    )


def rules_overview(*, user: AbstractBaseUser | None = None) -> list[dict[str, Any]]:
    """Each rule with its active alerts — those the user sees, as the queue its count links
    to (?rule=…) lists them."""
    alerts = alerts_visible_to(user) if user is not None else Alert.all_tenants.all()
    counts = dict(
        alerts.filter(status__in=ACTIVE_STATUSES).values("rule_id").annotate(n=Count("id")).values_list("rule_id", "n")
    )
    rows = []
    for rule in AlertRule.objects.select_related("updated_by").order_by("slug"):
        spec = RULES.get(rule.slug)
        if spec is None:
            continue
        params = spec.effective(rule.params)
        rows.append(
            {
                "rule": rule,
                "spec": spec,
                "params": params,
                # What the page shows: each parameter by its label, not its key.
                "param_rows": [(p.label, params[p.key]) for p in spec.params if p.key in params],
                "active": counts.get(rule.id, 0),
            }
        )
    return rows


# --- weeks, SLA attainment and the export ------------------------------------------------------


WEEK_RE = re.compile(r"\A\d{4}-W\d{2}\Z")


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """ "2026-W47" → [Monday 00:00, next Monday 00:00) in the CS team's time zone, as UTC."""
    try:
        if not WEEK_RE.match(week):
            raise ValueError(week)
        year, number = week.split("-W")
        monday = date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise ValueError(f"“{week}” is not an ISO week such as 2026-W47.") from None
    zone = ZoneInfo(settings.CS_TEAM_TIMEZONE)
    start = datetime.combine(monday, time(), tzinfo=zone)
    return start.astimezone(UTC), (start + timedelta(days=7)).astimezone(UTC)


def week_of(at: datetime) -> str:
    year, number, _ = at.astimezone(ZoneInfo(settings.CS_TEAM_TIMEZONE)).isocalendar()
    return f"{year}-W{number:02d}"


def export_default_week(now: datetime) -> str:
    """The week export.csv gives without ?week=: the last whole week in the CS team's time
    zone — the page's "last week" row and its "Export last week" button."""
    return week_of(now - timedelta(days=7))


def alerts_opened_in(start: datetime, end: datetime) -> QuerySet[Alert]:
    return (
        Alert.all_tenants.filter(opened_at__gte=start, opened_at__lt=end)
        .select_related("tenant", "rule", "assignee")
        .order_by("opened_at", "id")
    )


@dataclass(frozen=True)
class Attainment:
    week: str
    opened: int  # alerts with an SLA opened this week
    met: int
    breached: int
    pending: int
    alerts: int = 0  # every alert opened this week, with an SLA or not: the week's CSV rows

    @property
    def percent(self) -> int | None:
        decided = self.met + self.breached
        return round(self.met * 100 / decided) if decided else None


def sla_attainment(*, weeks: int, now: datetime, routes: set[str] | None = None) -> list[Attainment]:
    """Per week (newest first, weeks as week_bounds has them): alerts with an SLA that were
    acknowledged in time, late, or are still waiting within it; and every alert opened, the
    number of rows the week's CSV export has. `routes` limits it to the queues a person sees,
    as the export does."""
    result = []
    this_monday, _ = week_bounds(week_of(now))
    scope = Alert.all_tenants.all() if routes is None else Alert.all_tenants.filter(route__in=sorted(routes))
    for back in range(weeks):
        start = this_monday - timedelta(days=7 * back)
        end = start + timedelta(days=7)
        met = breached = pending = opened = every = 0
        for a in scope.filter(opened_at__gte=start, opened_at__lt=end).only(
            "sla_due_at", "acknowledged_at", "sla_breached_at", "status", "resolved_at"
        ):
            every += 1
            if a.sla_due_at is None:
                continue
            opened += 1
            state = sla_state(a, now)
            met += state == "met"
            breached += state == "breached"
            pending += state in ("within", "due_soon")
        result.append(Attainment(week_of(start), opened, met, breached, pending, every))
    return result


EXPORT_COLUMNS = [
    "id",
    "tenant",
    "tenant_name",
    "rule",
    "severity",
    "route",
    "status",
    "assignee",
    "opened_at",
    "sla_due_at",
    "acknowledged_at",
    "resolved_at",
    "sla_outcome",
    "rationale",
    "resolution",
]


def export_row(alert: Alert, now: datetime) -> list[str]:
    def iso(value: datetime | None) -> str:
        return value.isoformat() if value else ""

    return [
        str(alert.id),
        alert.tenant.external_id,
        alert.tenant.name,
        alert.rule.slug,
        alert.severity,
        alert.route,
        alert.status,
        alert.assignee.get_username() if alert.assignee else "",
        iso(alert.opened_at),
        iso(alert.sla_due_at),
        iso(alert.acknowledged_at),
        iso(alert.resolved_at),
        sla_state(alert, now) or "no_sla",
        alert.rationale,
        alert.resolution,
    ]


# --- digests ----------------------------------------------------------------------------------


def digest_for_csm(*, user: AbstractBaseUser, now: datetime) -> dict[str, Any]:
    """A person's morning: the open alerts assigned to them or waiting unassigned in their
    role's queue, by severity; their tasks due today; their tenants whose health bucket
    changed since the day before."""
    zone = ZoneInfo(settings.CS_TEAM_TIMEZONE)
    end_of_day = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(), tzinfo=zone)
    queues = [role for role in staff_roles_of(user) if role in Route.values]
    alerts = list(
        Alert.all_tenants.filter(Q(assignee=user) | Q(assignee__isnull=True, route__in=queues))
        .filter(status__in=ACTIVE_STATUSES)
        .select_related("tenant", "rule")
        .order_by(_severity_rank(), "opened_at")
    )
    owned = {t.id: t for t in Tenant.objects.filter(csm_owner=user).exclude(health_computed_at__isnull=True)}
    changed = []
    if owned:
        today = now.astimezone(UTC).date()
        scores: dict[int, dict[date, str]] = {}
        for tenant_id, day, bucket in HealthScore.all_tenants.filter(
            tenant_id__in=list(owned), day__gte=today - timedelta(days=2)
        ).values_list("tenant_id", "day", "bucket"):
            scores.setdefault(tenant_id, {})[day] = bucket
        for tenant_id, by_day in scores.items():
            days = sorted(by_day)
            if len(days) >= 2 and by_day[days[-1]] != by_day[days[-2]]:
                changed.append((owned[tenant_id], by_day[days[-2]], by_day[days[-1]]))
    # Tasks due today come from playbooks (alerts.hooks): "tasks" is empty until it registers.
    return {"alerts": alerts, "tasks": [], "bucket_changes": changed, **digest_sections(user=user, until=end_of_day)}


def digest_for_lead(*, now: datetime) -> dict[str, Any]:
    """The CS lead's Monday: last week's alerts by rule and severity, its SLA attainment,
    the breaches, and what is still open now."""
    this_monday, _ = week_bounds(week_of(now))
    start = this_monday - timedelta(days=7)
    last_week = list(alerts_opened_in(start, this_monday))
    by_rule: dict[tuple[str, str], int] = {}
    for a in last_week:
        by_rule[(a.rule.name, a.severity)] = by_rule.get((a.rule.name, a.severity), 0) + 1
    attainment = sla_attainment(weeks=2, now=now)[1]
    open_now = Alert.all_tenants.filter(status__in=ACTIVE_STATUSES).values("severity").annotate(n=Count("id"))
    return {
        "week": week_of(start),
        "opened": len(last_week),
        "by_rule": sorted(by_rule.items()),
        "attainment": attainment,
        "breaches": [a for a in last_week if sla_state(a, now) == "breached"][:20],
        "open_now": {row["severity"]: row["n"] for row in open_now},
    }


def alerts_for_key(
    *,
    api_key: object,
    tenant: Tenant | None,
    status: str,
    rule: str,
    opened_after: datetime | None,
    opened_before: datetime | None,
) -> QuerySet[Alert]:
    """The alerts API's list: what the key may see (a tenant-bound key, its tenant's), narrowed
    by the filters given, newest first."""
    alerts = Alert.all_tenants.filter(tenant__in=tenants_visible_to_key(api_key=api_key))
    if tenant is not None:
        alerts = alerts.filter(tenant=tenant)
    if status:
        alerts = alerts.filter(status=status)
    if rule:
        alerts = alerts.filter(rule__slug=rule)
    if opened_after is not None:
        alerts = alerts.filter(opened_at__gte=opened_after)
    if opened_before is not None:
        alerts = alerts.filter(opened_at__lt=opened_before)
    return alerts.select_related("tenant", "rule", "assignee").order_by("-opened_at", "-id")


def alerts_for_export(*, start: datetime, end: datetime, user: AbstractBaseUser) -> QuerySet[Alert]:
    """The weekly CSV's rows: alerts opened in [start, end) in the queues this person sees."""
    return alerts_opened_in(start, end).filter(route__in=sorted(routes_visible_to(user)))


def rule_get(*, slug: str) -> tuple[AlertRule, Any]:
    """A rule's row and its spec; a 404 for a slug that is not a rule."""
    rule, spec = AlertRule.objects.filter(slug=slug).first(), RULES.get(slug)
    if rule is None or spec is None:
        raise Http404(f"No rule “{slug}”.")
    return rule, spec


def active_alerts_by_assignee(*, user: AbstractBaseUser, now: datetime) -> dict[int, dict[str, int]]:
    """Per assignee, the active alerts `user` may see and how many of them breached their
    SLA: the counts of the queue filtered by that assignee (and by sla=breached)."""
    rows = (
        alerts_visible_to(user)
        .filter(status__in=ACTIVE_STATUSES, assignee__isnull=False)
        .values("assignee_id")
        .annotate(active=Count("id"), breached=Count("id", filter=sla_filter("breached", now)))
        .order_by()
    )
    return {row["assignee_id"]: {"active": row["active"], "breached": row["breached"]} for row in rows}


def incidents_of(*, tenant: Tenant, since: datetime) -> list[dict[str, Any]]:
    """The tenant's alerts opened since `since`, per rule: how many, the latest, how many are
    still active — the renewal pack's incident history (every route: it is for the account)."""
    rows = (
        Alert.objects.for_tenant(tenant)
        .filter(opened_at__gte=since)
        .values("rule__slug")
        .annotate(
            opened=Count("id"),
            latest=Max("opened_at"),
            active=Count("id", filter=Q(status__in=ACTIVE_STATUSES)),
        )
        .order_by("-latest")
    )
    return [row | {"rule": AlertRule(slug=row["rule__slug"]).name} for row in rows]
