"""The lifecycle's reads: the expansion pipeline as the cockpit lists and counts it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, QuerySet, Sum
from django.http import Http404

from tenants.models import Tenant

from .models import Opportunity, ReferralReward

# The list's stage filter: the live pipeline first (what the CSM works), then each stage.
OPPORTUNITY_STAGES = {
    "live": "Open or proposed",
    "open": "Open",
    "proposed": "Proposed",
    "won": "Won",
    "lost": "Lost",
    "all": "Any stage",
}


def opportunities_for_staff(*, stage: str, csm: str) -> QuerySet[Opportunity]:
    """Opportunities at a stage (a key of OPPORTUNITY_STAGES), of one CSM's book ("" for
    everyone): the live ones newest first, closed ones by when they closed."""
    rows = Opportunity.all_tenants.select_related("tenant", "owner")
    if stage == "live":
        rows = rows.filter(stage__in=Opportunity.LIVE)
    elif stage != "all":
        rows = rows.filter(stage=stage)
    if csm:
        rows = rows.filter(tenant__csm_owner_id=int(csm))
    if stage in ("won", "lost"):
        return rows.order_by("-closed_at", "-id")
    return rows.order_by("-opened_at", "-id")


@dataclass(frozen=True)
class Pipeline:
    count: int
    mrr_cents: int


def won_of(rows: QuerySet[Opportunity]) -> Pipeline:
    """How many were won and the MRR their wins added."""
    totals = rows.order_by().aggregate(n=Count("id"), added=Sum("won_mrr_cents"))
    return Pipeline(totals["n"], int(totals["added"] or 0))


def opportunities_won_between(start: datetime, end: datetime) -> QuerySet[Opportunity]:
    return opportunities_for_staff(stage="won", csm="").filter(closed_at__gte=start, closed_at__lt=end)


def opportunities_of_tenant(*, tenant: Tenant) -> QuerySet[Opportunity]:
    return Opportunity.objects.for_tenant(tenant).select_related("owner").order_by("-opened_at", "-id")


def opportunity_get_for_staff(*, opportunity_id: int) -> Opportunity:
    """Staff see every tenant's; an unknown id is a 404."""
    found = Opportunity.all_tenants.select_related("tenant").filter(pk=opportunity_id).first()
    if found is None:
        raise Http404(f"No expansion opportunity {opportunity_id}.")
    return found


def live_pipeline(*, csm: str) -> Pipeline:
    """The pipeline being worked (open or proposed) and the MRR it would add if won."""
    totals = (
        opportunities_for_staff(stage="live", csm=csm).order_by().aggregate(n=Count("id"), delta=Sum("mrr_delta_cents"))
    )
    return Pipeline(totals["n"], int(totals["delta"] or 0))


REWARD_STATUSES = {"pending": "To apply", "applied": "Applied", "all": "Any status"}


def referral_rewards(*, status: str) -> QuerySet[ReferralReward]:
    """Rewards at a status (a key of REWARD_STATUSES): to apply oldest first, applied newest first."""
    rows = ReferralReward.all_tenants.select_related("tenant", "referred", "applied_by")
    if status == "pending":
        return rows.filter(status=ReferralReward.Status.PENDING).order_by("created_at", "id")
    if status == "applied":
        return rows.filter(status=ReferralReward.Status.APPLIED).order_by("-applied_at", "-id")
    return rows.order_by("-created_at", "-id")


def referral_reward_get_for_staff(*, reward_id: int) -> ReferralReward:
    found = ReferralReward.all_tenants.select_related("tenant").filter(pk=reward_id).first()
    if found is None:
        raise Http404(f"No referral reward {reward_id}.")
    return found
