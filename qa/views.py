"""The QA workspace in the cockpit (/admin/qa/): reviews by tenant, a new review (tenant filled
in from the Day 7 task's link), a review with its action items. Views parse and render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.access import staff_required
from core.paging import paged
from core.roles import Ability, may
from health import selectors as health_selectors
from tenants import selectors as tenant_selectors
from tenants.models import Tenant
from tenants.validators import parse_id

from . import selectors, services
from .models import RUBRIC, RUBRIC_MAX, RUBRIC_MIN, ActionItem

REVIEWS_PER_PAGE = 25


def _tenant_from(request: HttpRequest, source: dict) -> tuple[Tenant | None, str]:
    external_id = source.get("tenant", "").strip()
    if not external_id:
        return None, ""
    try:
        return tenant_selectors.tenant_get_for_staff(external_id=external_id[:64]), ""
    except Http404:
        return None, f"There is no tenant “{external_id[:64]}”."


@staff_required()
@require_GET
def review_list(request: HttpRequest) -> HttpResponse:
    tenant, note = _tenant_from(request, request.GET)
    if note:
        messages.warning(request, note + " Showing every tenant's reviews.")
    page = paged(selectors.reviews_list(tenant=tenant), request.GET, per_page=REVIEWS_PER_PAGE)
    return render(
        request,
        "qa/list.html",
        {"paged": page, "reviews": page.rows, "tenant": tenant, "can_act": may(request.user, Ability.ACT_ON_TENANTS)},
    )


@staff_required(Ability.ACT_ON_TENANTS)
@require_http_methods(["GET", "POST"])
def review_new(request: HttpRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    tenant, note = _tenant_from(request, source)
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and tenant is not None:
        raw_event = request.POST.get("event_id", "")
        try:
            event_id = parse_id(raw_event) if raw_event else None
            if raw_event and event_id is None:
                raise ValidationError({"event_id": [f"“{raw_event[:20]}” is not an event."]})
            review = services.review_create(
                tenant=tenant,
                title=request.POST.get("title", ""),
                interaction_url=request.POST.get("interaction_url", ""),
                event_id=event_id,
                scores={key: request.POST.get(f"score_{key}") for key in RUBRIC},
                highlights=request.POST.get("highlights", ""),
                actor=request.user,
                now=timezone.now(),
            )
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, f"Review saved: {review.score}/100. Add its action items below.")
            return redirect("qa:detail", review_id=review.id)
    context = {
        "tenant": tenant,
        "tenant_note": note,
        "errors": errors,
        "posted": request.POST if errors else {},
        # Each criterion with what was ticked (kept when the form comes back) and its errors.
        "rubric": [
            (key, label, hint, request.POST.get(f"score_{key}", ""), errors.get(f"score_{key}", []))
            for key, (label, hint) in RUBRIC.items()
        ],
        "levels": range(RUBRIC_MIN, RUBRIC_MAX + 1),
        "events": health_selectors.latest_events(tenant=tenant) if tenant else [],
    }
    status = 422 if errors or note else 200
    return render(request, "qa/new.html", context, status=status)


@staff_required()
@require_GET
def review_detail(request: HttpRequest, review_id: int) -> HttpResponse:
    review = selectors.review_get(review_id=review_id)
    return render(
        request,
        "qa/detail.html",
        {
            "review": review,
            "items": selectors.action_items_of(review=review),
            "becomes": ActionItem.Becomes.choices,
            "can_act": may(request.user, Ability.ACT_ON_TENANTS),
        },
    )


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def action_item_add(request: HttpRequest, review_id: int) -> HttpResponse:
    review = selectors.review_get(review_id=review_id)
    try:
        item = services.action_item_add(
            review=review,
            text=request.POST.get("text", ""),
            becomes=request.POST.get("becomes", ""),
            actor=request.user,
            now=timezone.now(),
        )
    except ValidationError as exc:
        messages.error(request, "Action item not added: " + " ".join(exc.messages))
    else:
        if item.task_id:
            who = item.task.assignee.get_full_name() or item.task.assignee.get_username()
            messages.success(request, f"Task created for {who}: {item.text}")
        else:
            messages.success(request, f"Knowledge-base draft started: {item.article.title}")
    return redirect("qa:detail", review_id=review.id)
