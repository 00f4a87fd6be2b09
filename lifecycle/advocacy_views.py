"""The advocacy candidates page (/admin/customer-success/advocacy/) and the form that records
an ask — a review, a testimonial, a case study, a referral — and its answer."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.access import staff_required
from core.http import safe_next
from core.paging import paged
from core.roles import Ability, may
from tenants import selectors as tenant_selectors

from . import advocacy
from .models import AdvocacyAsk


@staff_required()
@require_GET
def advocacy_list(request: HttpRequest) -> HttpResponse:
    """Who to ask for a review, a testimonial, a case study or a referral."""
    csm = request.GET.get("csm", "").strip()
    notes = []
    if csm and not csm.isdigit():
        notes.append(f"“{csm[:30]}” is not a CSM: showing everyone's tenants.")
        csm = ""
    candidates = advocacy.advocacy_candidates(now=timezone.now(), csm=csm)
    page = paged(candidates, request.GET)
    context = {
        "candidates": page.rows,
        "paged": page,
        "notes": notes,
        "csm": csm,
        "csms": tenant_selectors.csm_choices(),
        "nps_days": advocacy.NPS_DAYS,
        # The asks being worked (asked or agreed), newest first: few at a time by nature.
        "open_asks": list(
            advocacy.advocacy_asks(csm=csm).filter(outcome__in=["asked", "agreed"])[: advocacy.OPEN_ASKS_SHOWN]
        ),
        "kinds": AdvocacyAsk.Kind.choices,
        "outcomes": AdvocacyAsk.Outcome.choices,
        "can_act": may(request.user, Ability.ACT_ON_TENANTS),
    }
    return render(request, "lifecycle/advocacy.html", context)


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def advocacy_ask(request: HttpRequest, external_id: str) -> HttpResponse:
    tenant = tenant_selectors.tenant_get_for_staff(external_id=external_id)
    try:
        ask = advocacy.advocacy_ask_record(
            tenant=tenant,
            kind=request.POST.get("kind", ""),
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", ""),
            actor=request.user,
            now=timezone.now(),
        )
    except ValidationError as exc:
        messages.error(request, f"{tenant.name}: " + " ".join(exc.messages))
    else:
        messages.success(
            request, f"{tenant.name}: {ask.get_kind_display().lower()} — {ask.get_outcome_display().lower()}."
        )
    return redirect(safe_next(request, default="cockpit:advocacy", under="/admin/customer-success/"))
