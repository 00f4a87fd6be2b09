"""Alerts in the cockpit: the queue (filters, htmx actions), the weekly CSV export, the rules
and their settings. Views parse and render; alerts.py decides."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.access import staff_required
from core.charts import columns
from core.http import safe_next
from core.paging import paged
from core.roles import Ability, may
from tenants.validators import parse_id

from . import selectors
from . import services as alerts
from .bulk import BULK_ACTIONS, BULK_DONE, alerts_bulk_act
from .models import Alert, Route, Severity
from .rules import RULES

ACTIONS = ("acknowledge", "assign", "snooze", "resolve")
SNOOZE_PRESETS = {"1h": "1 hour", "4h": "4 hours", "tomorrow": "Tomorrow 09:00", "monday": "Monday 09:00"}


def _row_context(request: HttpRequest, alert: Alert, now: datetime, error: str = "") -> dict:
    alert.sla = selectors.sla_state(alert, now)
    return {
        "alert": alert,
        "now": now,
        "error": error,
        # A refused form shows what was sent, beside the error, to be corrected.
        "posted": request.POST if error else None,
        "staff": selectors.assignable_staff(),
        "presets": SNOOZE_PRESETS,
        "sla_states": selectors.SLA_STATES,
    }


@staff_required()
@require_GET
def alert_queue(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    filters, errors = selectors.queue_filters_from(request.GET, user=request.user)
    for error in errors:
        messages.warning(request, error)
    # A page of the queue, most urgent first, with the total: the filters stay in the URL.
    # 25 a page: each row carries its four actions.
    page = paged(selectors.alert_queue(user=request.user, filters=filters, now=now), request.GET, per_page=25)
    queue = page.rows
    for alert in queue:
        alert.sla = selectors.sla_state(alert, now)
    attainment = selectors.sla_attainment(weeks=8, now=now, routes=selectors.routes_visible_to(request.user))
    context = {
        "alerts": queue,
        "paged": page,
        "filters": filters,
        "counts": selectors.queue_counts(user=request.user, now=now),
        "count_links": selectors.QUEUE_COUNT_LINKS,
        "statuses": selectors.STATUS_FILTERS,
        "severities": Severity.choices,
        "rules": sorted((slug, spec.name) for slug, spec in RULES.items()),
        "routes": [(r.value, r.label) for r in Route if r.value in selectors.routes_visible_to(request.user)],
        "staff": selectors.assignable_staff(),
        "presets": SNOOZE_PRESETS,
        "bulk_actions": BULK_ACTIONS,
        "sla_states": selectors.SLA_STATES,
        "sorts": selectors.QUEUE_SORTS,
        "attainment": attainment,
        # Oldest week first, as a reader scans a chart left to right.
        "volume_chart": columns([(w.week[-3:], w.alerts) for w in reversed(attainment)]),
        "attainment_chart": columns([(w.week[-3:], w.percent) for w in reversed(attainment)], top=100, unit="%"),
        "this_week": selectors.week_of(now),
        "last_week": selectors.export_default_week(now),
        "team_timezone": settings.CS_TEAM_TIMEZONE,
        "now": now,
    }
    template = "alerts/alerts.html#alert-table" if request.htmx else "alerts/alerts.html"
    return render(request, template, context)


def _snooze_until(request: HttpRequest, now: datetime) -> datetime:
    """From a preset (in the CS team's time zone) or an explicit UTC date and time."""
    preset, raw = request.POST.get("preset", ""), request.POST.get("until", "").strip()
    zone = ZoneInfo(settings.CS_TEAM_TIMEZONE)
    local = now.astimezone(zone)
    if preset == "1h":
        return now + timedelta(hours=1)
    if preset == "4h":
        return now + timedelta(hours=4)
    if preset in ("tomorrow", "monday"):
        days = 1 if preset == "tomorrow" else (7 - local.weekday()) or 7
        return datetime.combine(local.date() + timedelta(days=days), time(9), tzinfo=zone)
    if preset:
        raise alerts.AlertActionError(f"“{preset}” is not a snooze choice.")
    if not raw:
        raise alerts.AlertActionError("Say until when to snooze: pick a choice or a date and time.")
    try:
        until = datetime.fromisoformat(raw)
    except ValueError:
        raise alerts.AlertActionError(f"“{raw}” is not a date and time such as 2026-11-23T09:00.") from None
    return until if until.tzinfo else until.replace(tzinfo=UTC)


@staff_required()
@require_POST
def alert_action(request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
    # Visible alerts only: one of another queue (billing for a CSM's… or the reverse) is a 404.
    alert = selectors.alert_get_for_staff(user=request.user, alert_id=alert_id)
    now = timezone.now()
    note = request.POST.get("note", "").strip()[:300]
    error = ""
    try:
        if action == "acknowledge":
            alert = alerts.alert_acknowledge(alert=alert, actor=request.user, note=note, now=now)
            done = "Acknowledged"
        elif action == "assign":
            alert = alerts.alert_assign(alert=alert, actor=request.user, assignee_id=_assignee_from(request), now=now)
            done = "Assigned"
        elif action == "snooze":
            until = _snooze_until(request, now)
            alert = alerts.alert_snooze(alert=alert, actor=request.user, until=until, note=note, now=now)
            done = f"Snoozed until {until.astimezone(UTC):%-d %b %H:%M} UTC"
        elif action == "resolve":
            alert = alerts.alert_resolve(alert=alert, actor=request.user, note=note, now=now)
            done = "Resolved"
        else:
            raise alerts.AlertActionError(f"“{action}” is not something one can do to an alert.")
    except alerts.AlertActionError as exc:
        error = str(exc)
    if request.htmx:
        alert.refresh_from_db()
        # 422 with the row: htmx swaps it like a success (base.html), so the error shows in place
        # in every mode, never the bare row instead of the page.
        return render(
            request,
            "alerts/alerts.html#alert-row",
            _row_context(request, alert, now, error),
            status=422 if error else 200,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{done}: {alert.rule.slug} for {alert.tenant.name}.")
    return redirect(safe_next(request, default="cockpit:alerts"))


def _assignee_from(request: HttpRequest) -> int | None:
    raw = request.POST.get("assignee", "")
    assignee_id = parse_id(raw) if raw else None
    if raw and assignee_id is None:
        raise alerts.AlertActionError(f"“{raw[:20]}” is not a person.")
    return assignee_id


@staff_required()
@require_POST
def alert_bulk(request: HttpRequest) -> HttpResponse:
    """The ticked alerts of a queue page, acknowledged, snoozed or assigned at once; what no
    longer qualified is named with why, and the page comes back with its filters."""
    now = timezone.now()
    raw_ids = request.POST.getlist("ids")
    action = request.POST.get("action", "")
    try:
        alert_ids = [parse_id(raw) for raw in raw_ids]
        if None in alert_ids:
            raise alerts.AlertActionError(f"“{raw_ids[alert_ids.index(None)][:20]}” is not an alert.")
        outcome = alerts_bulk_act(
            user=request.user,
            alert_ids=alert_ids,  # type: ignore[arg-type]
            action=action,
            now=now,
            until=_snooze_until(request, now) if action == "snooze" else None,
            assignee_id=_assignee_from(request) if action == "assign" else None,
        )
    except alerts.AlertActionError as exc:
        messages.error(request, str(exc))
    else:
        if outcome.changed:
            n = len(outcome.changed)
            messages.success(request, f"{n} alert{'s' if n != 1 else ''} {BULK_DONE[action]}.")
        if outcome.skipped:
            n = len(outcome.skipped)
            left = "; ".join(f"{label} ({why})" for label, why in outcome.skipped)
            messages.warning(request, f"{n} left as {'they were' if n != 1 else 'it was'}: {left}.")
    return redirect(safe_next(request, default="cockpit:alerts", under=reverse("cockpit:alerts")))


@staff_required()
@require_GET
def alert_export(request: HttpRequest) -> HttpResponse:
    """The weekly CSV (seed 000: “Alerts: export weekly”): alerts opened in one ISO week."""
    now = timezone.now()
    week = request.GET.get("week") or selectors.export_default_week(now)
    try:
        start, end = selectors.week_bounds(week)
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="alerts-{week}.csv"'
    writer = csv.writer(response)
    writer.writerow(selectors.EXPORT_COLUMNS)
    for alert in selectors.alerts_for_export(start=start, end=end, user=request.user):
        writer.writerow(_safe_cells(selectors.export_row(alert, now)))
    return response


def _safe_cells(row: list[str]) -> list[str]:
    # A cell starting with = + - @ runs as a formula in a spreadsheet: tenant names and notes
    # are typed by people outside the team, so such cells get a leading apostrophe.
    return [f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell for cell in row]


@staff_required()
@require_GET
def alert_rules(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "alerts/alert_rules.html",
        {
            "rows": selectors.rules_overview(user=request.user),
            "can_edit": may(request.user, Ability.EDIT_ALERT_RULES),
        },
    )


@staff_required(Ability.EDIT_ALERT_RULES)
@require_http_methods(["GET", "POST"])
def alert_rule_edit(request: HttpRequest, slug: str) -> HttpResponse:
    rule, spec = selectors.rule_get(slug=slug)
    errors: dict[str, str] = {}
    values = spec.effective(rule.params)
    if request.method == "POST":
        values = {p.key: request.POST.get(p.key, "") for p in spec.params}
        rule, errors = alerts.rule_update(
            rule=rule,
            actor=request.user,
            enabled=request.POST.get("enabled") == "1",
            severity=request.POST.get("severity", ""),
            route=request.POST.get("route", ""),
            params=values,
            now=timezone.now(),
        )
        if not errors:
            messages.success(request, f"“{spec.name}” saved: the next tick (within a minute) applies it.")
            return redirect("cockpit:alert-rules")
    return render(
        request,
        "alerts/alert_rule_edit.html",
        {
            "rule": rule,
            "spec": spec,
            "values": values,
            "errors": errors,
            "severities": Severity.choices,
            "routes": Route.choices,
            "posted": request.POST if request.method == "POST" else None,
        },
        status=400 if errors else 200,
    )
