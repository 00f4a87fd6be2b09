"""Reads for the QA workspace: the review list (newest first, by tenant), one review with its
action items, and a tenant's QA summary for its page."""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, QuerySet
from django.http import Http404

from tenants.models import Tenant

from .models import ActionItem, Review


def reviews_list(*, tenant: Tenant | None = None) -> QuerySet[Review]:
    reviews = Review.objects.for_tenant(tenant) if tenant else Review.all_tenants.all()
    return reviews.select_related("tenant").annotate(items=Count("action_items")).order_by("-created_at", "-id")


def review_get(*, review_id: int) -> Review:
    review = Review.all_tenants.select_related("tenant", "tenant__csm_owner").filter(id=review_id).first()
    if review is None:
        raise Http404("No such QA review.")
    return review


def action_items_of(*, review: Review) -> list[ActionItem]:
    return list(
        ActionItem.objects.for_tenant(review.tenant).filter(review=review).select_related("task__assignee", "article")
    )


def tenant_qa_summary(*, tenant: Tenant, latest: int = 3) -> dict[str, Any]:
    """For the tenant page: how many reviews, their mean score, and the newest few."""
    totals = Review.objects.for_tenant(tenant).aggregate(count=Count("id"), mean=Avg("score"))
    return {
        "count": totals["count"],
        "mean": round(totals["mean"]) if totals["mean"] is not None else None,
        "latest": list(Review.objects.for_tenant(tenant).order_by("-created_at", "-id")[:latest]),
    }
