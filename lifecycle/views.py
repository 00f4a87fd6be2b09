"""The monthly CS report's page and downloads (/admin/customer-success/reports/)."""

from __future__ import annotations

from datetime import date, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.access import staff_required
from core.charts import columns
from core.roles import Ability
from tenants import selectors as tenant_selectors
from tenants.models import HealthBucket
from tenants.services import tenant_view_record

from . import advocacy, cohorts, nps, renewal_pack, reports


def _month_asked(raw: str, today: date) -> tuple[date, str]:
    """The month in `?month=YYYY-MM`; a value that is not one, or a month still to come, shows
    this month with a note saying why."""
    this_month = today.replace(day=1)
    if not raw:
        return this_month, ""
    try:
        year, month = (int(part) for part in raw.split("-"))
        asked = date(year, month, 1)
    except ValueError:
        return this_month, f"“{raw[:20]}” is not a month (YYYY-MM): showing {this_month:%B %Y}."
    if asked > this_month:
        return this_month, f"{asked:%B %Y} has not begun: showing {this_month:%B %Y}."
    if asked.year < 2000:
        return this_month, f"{asked:%B %Y} is before any data: showing {this_month:%B %Y}."
    return asked, ""


@staff_required(Ability.SEE_REVENUE)
@require_GET
def monthly_report_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    month, note = _month_asked(request.GET.get("month", "").strip(), now.date())
    report = reports.monthly_report(month=month, now=now)
    kind = request.GET.get("format", "")
    if kind == "csv":
        response = HttpResponse(reports.report_csv(report), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="cs-report-{month:%Y-%m}.csv"'
        return response
    if kind == "md":
        response = HttpResponse(reports.report_markdown(report), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="cs-report-{month:%Y-%m}.md"'
        return response
    previous = (month.replace(day=1) - date.resolution).replace(day=1)
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    context = {
        "report": report,
        "note": note or (f"“{kind[:20]}” is not a download: csv or md." if kind else ""),
        "previous": previous,
        "following": following if following <= now.date() else None,
        "whole_month": report.end == reports.month_bounds(month)[1],
    }
    return render(request, "lifecycle/report.html", context)


def _week_asked(raw: str, today: date) -> tuple[date, str]:
    """The Monday of `?week=YYYY-Www` (ISO week); this week, with a note, for anything else."""
    this_week = today - timedelta(days=today.weekday())
    if not raw:
        return this_week, ""
    try:
        year, week = raw.upper().split("-W")
        monday = date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        return this_week, f"“{raw[:20]}” is not a week (YYYY-Www, e.g. {this_week:%G-W%V}): showing this week."
    if monday > this_week:
        return this_week, f"Week {monday:%G-W%V} has not begun: showing this week."
    return monday, ""


@staff_required(Ability.SEE_REVENUE)
@require_GET
def weekly_dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    monday, note = _week_asked(request.GET.get("week", "").strip(), now.date())
    start, following = reports.week_bounds(monday)
    report = reports.period_report(start=start, end=min(following, now), revenue=None)
    buckets = [
        (label, value, tenant_selectors.tenants_for_staff(filters=tenant_selectors.TenantListFilters(bucket=value)))
        for value, label in HealthBucket.choices
    ]
    context = {
        "report": report,
        "monday": monday,
        "sunday": monday + timedelta(days=6),
        "note": note,
        "previous": f"{monday - timedelta(days=7):%G-W%V}",
        "following": f"{monday + timedelta(days=7):%G-W%V}" if following <= now else "",
        "buckets": [(label, value, rows.count()) for label, value, rows in buckets],
        "nps_by_tier": reports.nps_by_tier(report),
        "advocates": len(advocacy.advocacy_candidates(now=now)),
    }
    return render(request, "lifecycle/weekly.html", context)


@staff_required(Ability.SEE_REVENUE)
@require_GET
def cohort_report(request: HttpRequest) -> HttpResponse:
    """Retention by signup month, plan, segment or onboarding path (issue 16 §8)."""
    by, note = request.GET.get("by", "month"), ""
    if by not in cohorts.GROUPINGS:
        note = f"“{by[:20]}” is not a way to group customers: showing signup months."
        by = "month"
    now = timezone.now()
    groups = cohorts.cohorts(by=by, now=now)
    # The chart: each group's retention after three months — or, while no customer is three
    # months in, after the longest horizon that has data (— where no tenant is that old yet).
    with_data = [h for i, h in enumerate(cohorts.HORIZONS) if any(c.retention[i].eligible for c in groups)]
    horizon = 3 if 3 in with_data else max(with_data, default=1)
    at = cohorts.HORIZONS.index(horizon)
    oldest_first = list(reversed(groups)) if by == "month" else groups
    chart = columns([(cohort.short_label, cohort.retention[at].rate) for cohort in oldest_first], top=100, unit="%")
    context = {
        "cohorts": groups,
        "by": by,
        "groupings": cohorts.GROUPINGS,
        "by_label": cohorts.GROUPINGS[by],
        "horizons": cohorts.HORIZONS,
        "note": note,
        "chart": chart,
        "chart_months": horizon,
        "customers": sum(c.size for c in groups),
    }
    return render(request, "lifecycle/cohorts.html", context)


@staff_required()
@require_GET
def renewal_pack_page(request: HttpRequest, external_id: str) -> HttpResponse:
    """A tenant's renewal health pack, made to print (seed 002's 120-day health review)."""
    tenant = tenant_selectors.tenant_get_for_staff(external_id=external_id)
    now = timezone.now()
    tenant_view_record(actor=request.user, tenant=tenant, now=now, ip=request.META.get("REMOTE_ADDR"))
    return render(request, "lifecycle/renewal_pack.html", {"pack": renewal_pack.renewal_pack(tenant=tenant, now=now)})


@staff_required(Ability.SEE_REVENUE)
@require_GET
def nps_report(request: HttpRequest) -> HttpResponse:
    """NPS by month, plan and segment."""
    return render(request, "lifecycle/nps.html", {"nps": nps.nps_breakdown(now=timezone.now())})
