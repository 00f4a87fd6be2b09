"""Reads. Tenant-facing reads take the tenant (or the API key that binds one) first; a
tenant the caller may not see is a 404, the same as one that does not exist."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, Count, F, Q, QuerySet, Value, When
from django.http import Http404

from core.roles import StaffRole

from .models import ApiKey, HealthBucket, Membership, Tenant, TenantNote, TimelineEntry
from .services import API_KEY_PREFIX, api_key_hash


def api_key_authenticate(*, plaintext: str) -> ApiKey | None:
    """The active key whose secret this is, or None."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    api_key = ApiKey.objects.select_related("tenant").filter(prefix=parts[1], revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, api_key_hash(plaintext)):
        return None
    return api_key


def tenants_visible_to_key(*, api_key: ApiKey) -> QuerySet[Tenant]:
    if api_key.tenant_id is not None:
        return Tenant.objects.filter(pk=api_key.tenant_id)
    return Tenant.objects.all()


def tenant_get_for_key(*, api_key: ApiKey, external_id: str) -> Tenant:
    # Same 404 for "missing" and "another tenant's": never reveal that an id exists.
    tenant = tenants_visible_to_key(api_key=api_key).filter(external_id=external_id).first()
    if tenant is None:
        raise Http404(f"No tenant with external_id “{external_id}”.")
    return tenant


def timeline_for_tenant(*, tenant: Tenant, limit: int = 200) -> QuerySet[TimelineEntry]:
    return TimelineEntry.objects.for_tenant(tenant).order_by("-at", "-id")[:limit]


@dataclass(frozen=True)
class TenantListFilters:
    q: str = ""
    plan: str = ""
    segment: str = ""
    csm: str = ""  # a user id, or "none" for tenants without a CSM
    stage: str = ""
    bucket: str = ""
    sort: str = "name"


_WARMING_UP_LAST = Case(When(health_bucket=HealthBucket.NEW, then=Value(1)), default=Value(0)).asc()

TENANT_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "signed_up_at": ("signed_up_at", "id"),
    "-signed_up_at": ("-signed_up_at", "-id"),
    "plan": ("plan", "name"),
    "-plan": ("-plan", "name"),
    # Worst first: the order a CSM works a portfolio in. Tenants still warming up (`new`) come
    # after every judged one, whatever their informational score; unscored tenants go last.
    "health": (_WARMING_UP_LAST, F("health_score").asc(nulls_last=True), "name"),
    "-health": (_WARMING_UP_LAST, F("health_score").desc(nulls_last=True), "name"),
    # Working renewals: the contract that ends first leads; tenants without a date go last.
    "renewal": (F("contract_ends_on").asc(nulls_last=True), "name"),
}


def tenants_for_staff(*, filters: TenantListFilters) -> QuerySet[Tenant]:
    """The cockpit's tenant list: every tenant (staff see all), filtered and sorted."""
    tenants = Tenant.objects.select_related("csm_owner")
    if filters.q:
        tenants = tenants.filter(
            Q(name__icontains=filters.q) | Q(external_id__icontains=filters.q) | Q(owner_email__icontains=filters.q)
        )
    if filters.plan:
        tenants = tenants.filter(plan=filters.plan)
    if filters.segment:
        tenants = tenants.filter(segment=filters.segment)
    if filters.stage:
        tenants = tenants.filter(lifecycle_stage=filters.stage)
    if filters.bucket:
        tenants = tenants.filter(health_bucket=filters.bucket)
    if filters.csm == "none":
        tenants = tenants.filter(csm_owner__isnull=True)
    elif filters.csm:
        tenants = tenants.filter(csm_owner_id=filters.csm)
    return tenants.order_by(*TENANT_SORTS.get(filters.sort, TENANT_SORTS["name"]))


def book_sizes() -> dict[int, int]:
    """How many tenants each CSM owns: the tenant list's count for `?csm=<id>`."""
    rows = Tenant.objects.filter(csm_owner__isnull=False).values_list("csm_owner_id").annotate(n=Count("id"))
    return dict(rows.order_by())


def tenant_segments() -> list[str]:
    return list(Tenant.objects.exclude(segment="").order_by("segment").values_list("segment", flat=True).distinct())


def csm_choices() -> QuerySet:
    return (
        get_user_model()
        .objects.filter(Q(groups__name__in=[StaffRole.CSM, StaffRole.CS_LEAD]) | Q(owned_tenants__isnull=False))
        .distinct()
        .order_by("username")
    )


def tenant_by_referral_code(*, code: str) -> Tenant | None:
    """The tenant whose referral link carries `code` (any case, spaces ignored); churned
    tenants' links no longer count."""
    cleaned = code.strip().upper().replace(" ", "")
    if not cleaned:
        return None
    return Tenant.objects.filter(referral_code=cleaned).exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED).first()


def referrals_of(*, tenant: Tenant) -> QuerySet[Tenant]:
    """The tenants that signed up through `tenant`'s referral link."""
    return Tenant.objects.filter(referred_by=tenant)


def tenant_get_for_staff(*, external_id: str) -> Tenant:
    """Staff see every tenant; an unknown id is a 404."""
    tenant = Tenant.objects.select_related("csm_owner", "referred_by").filter(external_id=external_id).first()
    if tenant is None:
        raise Http404(f"No tenant with external_id “{external_id}”.")
    return tenant


def memberships_of(*, user: object) -> QuerySet:
    """The signed-in user's own memberships, with their tenants (the user is the scope)."""
    return Membership.all_tenants.filter(user=user).select_related("tenant").order_by("tenant__name")


def tenant_owned_by(*, user: object) -> Tenant | None:
    """The tenant this user owns (the first, if several); None for staff, members, strangers."""
    membership = (
        Membership.all_tenants.filter(user=user, role=Membership.Role.OWNER)
        .select_related("tenant")
        .order_by("created_at")
        .first()
    )
    return membership.tenant if membership else None


def tenants_to_preview_with(*, limit: int = 500) -> QuerySet[Tenant]:
    """Tenants a playbook editor can preview a step for: everyone not churned, by name."""
    return Tenant.objects.exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED).order_by("name")[:limit]


def tenant_find_for_staff(*, tenant_id: int | None) -> Tenant | None:
    return Tenant.objects.select_related("csm_owner").filter(id=tenant_id).first() if tenant_id else None


def tenants_for_key(*, api_key: ApiKey, plan: str, csm: str, bucket: str) -> QuerySet[Tenant]:
    """The tenant API's list: what the key may see, narrowed by the filters given."""
    tenants = tenants_visible_to_key(api_key=api_key).select_related("csm_owner")
    if plan:
        tenants = tenants.filter(plan=plan)
    if csm:
        tenants = tenants.filter(csm_owner__username=csm)
    if bucket:
        tenants = tenants.filter(health_bucket=bucket)
    return tenants.order_by("external_id")


def notes_for_tenant(*, tenant: Tenant) -> QuerySet[TenantNote]:
    """The pinned note first, then the newest."""
    return TenantNote.objects.for_tenant(tenant).order_by("-pinned", "-created_at", "-id")


def note_get(*, tenant: Tenant, note_id: int) -> TenantNote:
    """A note of this tenant; another tenant's note (or none) is a 404."""
    note = TenantNote.objects.for_tenant(tenant).select_related("tenant").filter(id=note_id).first()
    if note is None:
        raise Http404("No such note on this tenant.")
    return note


def timeline_rows(*, tenant: Tenant, kind_prefixes: tuple[str, ...] = ()) -> QuerySet:
    """The tenant's timeline as plain rows (id, at, kind, summary, data, source), for a page that
    merges them with other sources; `kind_prefixes` keeps only kinds starting with one of them."""
    rows = TimelineEntry.objects.for_tenant(tenant)
    if kind_prefixes:
        match = Q()
        for prefix in kind_prefixes:
            match |= Q(kind__startswith=prefix)
        rows = rows.filter(match)
    return rows.annotate(source=Value("timeline")).values_list("id", "at", "kind", "summary", "data", "source")


def cs_team_members() -> list[AbstractBaseUser]:
    """Who can own an account: active CSMs, CS leads and admins, by name."""
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[StaffRole.CSM, StaffRole.CS_LEAD, StaffRole.ADMIN])
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


# The tenant list's renewal filter and the home's renewals tile read this one Q.
RENEWAL_WINDOWS = [
    ("30", "Within 30 days"),
    ("60", "Within 60 days"),
    ("90", "Within 90 days"),
    ("120", "Within 120 days"),
]


def tenants_renewing_within(tenants: QuerySet[Tenant], days: int, *, today: date) -> QuerySet[Tenant]:
    """Live tenants whose contract ends between today and `days` days from now."""
    return tenants.filter(contract_ends_on__gte=today, contract_ends_on__lte=today + timedelta(days=days)).exclude(
        lifecycle_stage=Tenant.LifecycleStage.CHURNED
    )


# The monthly report's churn and risk figures open the tenant list through these filters.
RISK_LEVELS = [("high", "High risk (health below 40)"), ("medium", "Medium risk (40–69)")]
HIGH_RISK_BELOW, MEDIUM_RISK_BELOW = 40, 70  # seed 004's risk protocols


def tenants_at_risk(tenants: QuerySet[Tenant], level: str) -> QuerySet[Tenant]:
    """Live, scored tenants (not warming up) at one of seed 004's risk levels, today."""
    scored = (
        tenants.exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .exclude(health_bucket=HealthBucket.NEW)
        .filter(health_score__isnull=False)
    )
    if level == "high":
        return scored.filter(health_score__lt=HIGH_RISK_BELOW)
    return scored.filter(health_score__gte=HIGH_RISK_BELOW, health_score__lt=MEDIUM_RISK_BELOW)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The calendar month holding `month`, in UTC: its 1st 00:00 and the next month's."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    following = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=UTC)
    return start, following


def tenants_churned_in(tenants: QuerySet[Tenant], month: date) -> QuerySet[Tenant]:
    """Customers the month began with (signed up before its 1st) that churned during it: the
    monthly churn rate's numerator, on the report and in the tenant list alike."""
    return tenants_churned_between(tenants, *month_bounds(month))


def tenants_churned_between(tenants: QuerySet[Tenant], start: datetime, end: datetime) -> QuerySet[Tenant]:
    """Customers at `start` that churned in [start, end): a report period's churn."""
    return tenants.filter(signed_up_at__lt=start, churned_at__gte=start, churned_at__lt=end)
