"""The expansion pipeline's cockpit pages: the list (/admin/customer-success/expansion/) and
the form that moves an opportunity along (open → proposed → won / lost)."""

from __future__ import annotations

from datetime import date, datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from billing.plans import PLANS
from core.access import staff_required
from core.http import safe_next
from core.paging import paged
from core.roles import Ability, may
from tenants import selectors as tenant_selectors
from tenants.selectors import month_bounds

from . import selectors, services
from .models import Opportunity


def parse_month(raw: str) -> tuple[datetime, datetime] | None:
    """`YYYY-MM` as the month's [start, end) in UTC; None for anything else."""
    try:
        year, month = (int(part) for part in raw.split("-"))
        return month_bounds(date(year, month, 1))
    except ValueError:
        return None


@staff_required()
@require_GET
def expansion_list(request: HttpRequest) -> HttpResponse:
    """The pipeline the CSMs work: why each opened, the plan it points to, what it adds."""
    params, notes = request.GET, []
    stage = params.get("stage", "live")
    if stage not in selectors.OPPORTUNITY_STAGES:
        notes.append(f"“{stage[:30]}” is not a stage: showing open or proposed ones.")
        stage = "live"
    csm = params.get("csm", "").strip()
    if csm and not csm.isdigit():
        notes.append(f"“{csm[:30]}” is not a CSM: showing everyone's tenants.")
        csm = ""
    rows = selectors.opportunities_for_staff(stage=stage, csm=csm)
    closed = params.get("closed", "").strip()
    if closed:
        month = parse_month(closed)
        if month is None:
            notes.append(f"“{closed[:20]}” is not a month (YYYY-MM): showing every month.")
            closed = ""
        else:
            rows = rows.filter(closed_at__gte=month[0], closed_at__lt=month[1])
    page = paged(rows, params)
    context = {
        "opportunities": page.rows,
        "paged": page,
        "notes": notes,
        "stage": stage,
        "stages": selectors.OPPORTUNITY_STAGES,
        "stage_label": selectors.OPPORTUNITY_STAGES[stage],
        "csm": csm,
        "closed": closed,
        "csms": tenant_selectors.csm_choices(),
        "live": selectors.live_pipeline(csm=csm),
        "plans": {key: plan.name for key, plan in PLANS.items()},
        "lost_reasons": Opportunity.LostReason.choices,
        "can_act": may(request.user, Ability.ACT_ON_TENANTS),
    }
    return render(request, "lifecycle/expansion.html", context)


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def opportunity_move(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    opportunity = selectors.opportunity_get_for_staff(opportunity_id=opportunity_id)
    stage = request.POST.get("stage", "")
    try:
        moved = services.opportunity_move(
            opportunity=opportunity,
            stage=stage,
            lost_reason=request.POST.get("lost_reason", ""),
            note=request.POST.get("note", ""),
            actor=request.user,
            now=timezone.now(),
            ip=request.META.get("REMOTE_ADDR"),
        )
    except ValidationError as exc:
        messages.error(request, f"{opportunity.tenant.name}: " + " ".join(exc.messages))
    else:
        words = {"proposed": "proposed", "won": "won", "lost": "lost"}[moved.stage]
        messages.success(
            request, f"{moved.tenant.name}: the move to {PLANS[moved.suggested_plan].name} is marked {words}."
        )
    return redirect(safe_next(request, default="cockpit:expansion", under="/admin/customer-success/"))
