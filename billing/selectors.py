"""Reads for billing: a tenant's subscription, the past-due queue, expiring cards, unmatched
Stripe objects, plan usage, and the signed portal links. Playbooks and the cockpit read
billing only through here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db.models import Q, QuerySet, Sum
from django.http import Http404
from django.urls import reverse

from health.models import DailyRollup
from tenants.models import Tenant

from .models import PAST_DUE_STATUSES, Customer, StripeEvent, Subscription, SubscriptionStatus, Trial
from .plans import PLANS

PORTAL_SALT = "billing.portal"
ENDED = frozenset({SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED})
USAGE_DAYS = 30


def site_url(name: str, *args: object) -> str:
    return f"{settings.SITE_URL}{reverse(name, args=args)}"


# --- portal links --------------------------------------------------------------------------


def portal_token(*, tenant: Tenant, customer: Customer) -> str:
    # The customer id is in the token: a link minted before the tenant changed Stripe
    # customers must not open the new one's portal.
    return signing.dumps({"t": tenant.external_id, "c": customer.stripe_id}, salt=PORTAL_SALT, compress=True)


def portal_token_read(*, token: str) -> Tenant | None:
    """The tenant a portal link opens, or None when the link is forged, expired, or its
    tenant's Stripe customer is no longer the one it was made for."""
    max_age = timedelta(days=settings.BILLING_PORTAL_LINK_MAX_AGE_DAYS)
    try:
        data = signing.loads(token, salt=PORTAL_SALT, max_age=max_age)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict):
        return None
    customer = Customer.objects.filter(stripe_id=data.get("c"), tenant__external_id=data.get("t")).first()
    return customer.tenant if customer else None


def portal_url(*, tenant: Tenant) -> str | None:
    """The link messages carry (`/billing/portal/<signed token>/`); None without a Stripe customer."""
    customer = Customer.objects.filter(tenant=tenant).first()
    if customer is None:
        return None
    return site_url("billing-portal-for-tenant", portal_token(tenant=tenant, customer=customer))


# --- subscriptions -------------------------------------------------------------------------


def _current(subscriptions: Iterable[Subscription]) -> Subscription | None:
    """A tenant's subscription that matters: the newest live one, else the newest ended one."""
    ordered = sorted(subscriptions, key=lambda s: (s.status not in ENDED, s.state_at, s.id), reverse=True)
    return ordered[0] if ordered else None


def subscriptions_current(*, tenant_ids: Iterable[int]) -> dict[int, Subscription]:
    by_tenant: dict[int, list[Subscription]] = {}
    for subscription in Subscription.all_tenants.filter(tenant_id__in=list(tenant_ids)).select_related(
        "latest_invoice", "customer"
    ):
        by_tenant.setdefault(subscription.tenant_id, []).append(subscription)
    return {tenant_id: _current(subs) for tenant_id, subs in by_tenant.items()}


def subscription_for_tenant(*, tenant: Tenant) -> Subscription | None:
    return subscriptions_current(tenant_ids=[tenant.id]).get(tenant.id)


def in_past_due_queue() -> Q:
    """The past-due queue's rows: a tenant's past-due or unpaid subscription, unless the tenant
    churned (nobody works it). The queue and every count of it (the revenue summary's “Past
    due” tile) filter with this one Q, so the number shown is the number of rows."""
    return Q(status__in=PAST_DUE_STATUSES, tenant__isnull=False) & ~Q(
        tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED
    )


@dataclass(frozen=True)
class StripeStatus:
    """A subscription's status as the mirror knows it: what Stripe said, and when. The mirror
    changes only when Stripe sends an event, so a status is a report as of its last event,
    not a fact about now — a lost or late renewal leaves “Active” on a period that ended."""

    status: str
    label: str  # Stripe's status, e.g. "Active"
    as_of: datetime  # Stripe time of the newest event folded into the mirror
    period_ended_at: datetime | None  # a live subscription whose current period ended before now


def subscription_stripe_status(subscription: Subscription, *, now: datetime) -> StripeStatus:
    end = subscription.current_period_end
    ended = subscription.status not in ENDED and end is not None and end <= now
    return StripeStatus(
        status=subscription.status,
        label=subscription.get_status_display(),
        as_of=subscription.state_at,
        period_ended_at=end if ended else None,
    )


def past_due_subscriptions() -> QuerySet[Subscription]:
    """Every tenant's past-due or unpaid subscription, oldest episode first."""
    return (
        Subscription.all_tenants.filter(in_past_due_queue())
        .select_related(
            "tenant", "tenant__csm_owner", "customer", "latest_invoice", "escalated_to", "dunning_paused_by"
        )
        .order_by("past_due_since", "id")
    )


def dunning_episode_prefix(subscription: Subscription) -> str:
    """Names one past-due episode of one subscription (runs of it share this prefix)."""
    since = subscription.dunning_episode_at or subscription.past_due_since or subscription.state_at
    return f"past_due:{subscription.stripe_id}:{int(since.timestamp())}:"


def dunning_enrolment_key(subscription: Subscription) -> str:
    """The episode, and which resume after a pause: one run each."""
    return f"{dunning_episode_prefix(subscription)}{subscription.dunning_resumes}"[:100]


def days_past_due(subscription: Subscription, now: datetime) -> int:
    return max(0, (now - subscription.past_due_since).days) if subscription.past_due_since else 0


def unmatched_subscriptions() -> QuerySet[Subscription]:
    return Subscription.all_tenants.filter(tenant__isnull=True).order_by("-state_at")


def unmatched_events(*, limit: int = 50) -> QuerySet[StripeEvent]:
    return StripeEvent.objects.filter(outcome=StripeEvent.Outcome.UNMATCHED).order_by("-received_at")[:limit]


@dataclass(frozen=True)
class ExpiringCard:
    customer: Customer
    tenant: Tenant
    expires_on: date  # the last day the card works
    subscription: Subscription | None


def _card_last_day(year: int, month: int) -> date:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def cards_expiring(*, now: datetime, days: int = 30) -> list[ExpiringCard]:
    """Cards of live tenants that stop working within `days` (or already have), soonest first."""
    today = now.astimezone(UTC).date()
    horizon = today + timedelta(days=days)
    candidates = (
        Customer.objects.filter(tenant__isnull=False, card_exp_year__isnull=False, card_exp_month__isnull=False)
        .filter(Q(card_exp_year__lt=horizon.year) | Q(card_exp_year=horizon.year, card_exp_month__lte=horizon.month))
        .exclude(tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .select_related("tenant", "tenant__csm_owner")
    )
    candidates = list(candidates)
    current = subscriptions_current(tenant_ids=[c.tenant_id for c in candidates])
    found = []
    for customer in candidates:
        subscription = current.get(customer.tenant_id)
        if subscription is None or subscription.status in ENDED:
            continue  # nothing left to charge: an expiring card does not matter
        last_day = _card_last_day(customer.card_exp_year, customer.card_exp_month)
        if last_day <= horizon:
            found.append(ExpiringCard(customer, customer.tenant, last_day, subscription))
    return sorted(found, key=lambda c: (c.expires_on, c.tenant.name))


# --- plan usage (the expansion rule) ------------------------------------------------------------


@dataclass(frozen=True)
class PlanUsage:
    plan: str
    used: int
    limit: int
    days: int = USAGE_DAYS

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.limit


def plan_usage(*, tenant_ids: Iterable[int] | None = None, now: datetime) -> dict[int, PlanUsage]:
    """Usage events (`BILLING_USAGE_EVENT`) in the last 30 days against each live tenant's
    plan limit; tenants on a plan without a limit are left out. One query."""
    limits = {key: plan.monthly_limit for key, plan in PLANS.items() if plan.monthly_limit}
    if not limits:
        return {}
    today = now.astimezone(UTC).date()
    rows = DailyRollup.all_tenants.filter(
        name=settings.BILLING_USAGE_EVENT,
        day__gt=today - timedelta(days=USAGE_DAYS),
        day__lte=today,
        tenant__plan__in=list(limits),
    ).exclude(tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED)
    if tenant_ids is not None:
        rows = rows.filter(tenant_id__in=list(tenant_ids))
    totals = rows.values("tenant_id", "tenant__plan").annotate(used=Sum("count")).order_by()
    return {
        row["tenant_id"]: PlanUsage(plan=row["tenant__plan"], used=row["used"], limit=limits[row["tenant__plan"]])
        for row in totals
    }


# --- the tenant API's `subscription` block (CONTRACTS.md) -----------------------------------------


def _block(subscription: Subscription | None) -> dict[str, Any] | None:
    """{status, plan, mrr_cents, past_due_since}; null for a tenant with no Stripe subscription."""
    if subscription is None:
        return None
    return {
        "status": subscription.status,
        "plan": subscription.plan or None,
        "mrr_cents": subscription.mrr_cents,
        "past_due_since": subscription.past_due_since.isoformat() if subscription.past_due_since else None,
    }


def subscription_block(tenant: Tenant) -> dict[str, Any] | None:
    return _block(subscription_for_tenant(tenant=tenant))


def subscription_blocks(tenants: Sequence[Tenant]) -> dict[int, dict[str, Any] | None]:
    current = subscriptions_current(tenant_ids=[t.id for t in tenants])
    return {t.id: _block(current.get(t.id)) for t in tenants}


def customer_for_tenant(*, tenant: Tenant) -> Customer | None:
    return Customer.objects.filter(tenant=tenant).first()


def tenant_had_trial(*, tenant: Tenant) -> bool:
    return Trial.objects.for_tenant(tenant).exists()


def subscription_for_ops(*, subscription_id: int) -> Subscription:
    """A tenant's subscription for a billing-ops action (any tenant: a staff read); 404 when
    there is none, or it belongs to no tenant."""
    subscription = (
        Subscription.all_tenants.filter(pk=subscription_id, tenant__isnull=False)
        .select_related(
            "tenant", "tenant__csm_owner", "customer", "latest_invoice", "escalated_to", "dunning_paused_by"
        )
        .first()
    )
    if subscription is None:
        raise Http404("No such subscription.")
    return subscription


# The tenant list's billing filter and the home's billing tiles read the same Q each, so a
# tile's count is the number of rows its link lists.
BILLING_STATES = [("past_due", "Past due"), ("trial_ending", "Trial ends within 7 days")]
TRIAL_ENDING_WITHIN = timedelta(days=7)


def tenants_in_billing_state(tenants: QuerySet[Tenant], state: str, *, now: datetime) -> QuerySet[Tenant]:
    """Narrows tenants to one billing state: a past-due or unpaid subscription (not churned,
    as the past-due queue), or a free trial still running that ends within 7 days."""
    if state == "past_due":
        ids = Subscription.all_tenants.filter(in_past_due_queue()).values("tenant_id")
        return tenants.filter(id__in=ids)
    if state == "trial_ending":
        ids = Trial.all_tenants.filter(
            status=Trial.Status.TRIALING, ends_at__gt=now, ends_at__lte=now + TRIAL_ENDING_WITHIN
        ).values("tenant_id")
        return tenants.filter(id__in=ids)
    return tenants


def subscriptions_set_to_cancel() -> QuerySet[Subscription]:
    """Live tenants' subscriptions that still bill but are set to end (Stripe's
    cancel_at_period_end or cancel_at): the cancellation-intent rule's rows."""
    return (
        Subscription.all_tenants.filter(Q(cancel_at_period_end=True) | Q(cancel_at__isnull=False))
        .filter(ended_at__isnull=True, status__in=["active", "trialing", "past_due"], tenant__isnull=False)
        .exclude(tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .order_by("id")
    )


# --- the health model's payment signal ------------------------------------------------------------

PAYMENT_FRESH = timedelta(days=1)  # the mirror is now's state: only a score as of now reads it


def payment_health_facts(*, tenant_ids: list[int] | None, as_of: datetime, now: datetime) -> dict[int, dict[str, Any]]:
    """Payment health 0–100 from the Stripe mirror, with its reason: paid up 100; a card that
    stops working within 30 days 70; past due 30, less 10 a failed attempt past the first
    (0 at the most); unpaid 0. The mirror holds Stripe's current state, not its history, so a
    score as of a past moment (the back-test) has no payment facts: the component is left out."""
    if now - as_of > PAYMENT_FRESH:
        return {}
    subscriptions = Subscription.all_tenants.filter(tenant__isnull=False).exclude(status__in=ENDED)
    if tenant_ids is not None:
        subscriptions = subscriptions.filter(tenant_id__in=tenant_ids)
    current = subscriptions_current(tenant_ids=set(subscriptions.values_list("tenant_id", flat=True)))
    horizon = as_of.astimezone(UTC).date() + timedelta(days=30)
    found: dict[int, dict[str, Any]] = {}
    for tenant_id, subscription in current.items():
        if subscription is None or subscription.status in ENDED:
            continue
        invoice, customer = subscription.latest_invoice, subscription.customer
        if subscription.status == SubscriptionStatus.UNPAID:
            score, note = 0, "Unpaid: Stripe stopped retrying the invoice"
        elif subscription.status == SubscriptionStatus.PAST_DUE:
            attempts = invoice.attempt_count if invoice else 1
            score = max(0, 30 - 10 * max(0, attempts - 1))
            note = f"Past due for {days_past_due(subscription, as_of)} days, {attempts} failed attempt(s)"
        elif (
            customer
            and customer.card_exp_year
            and customer.card_exp_month
            and ((last_day := _card_last_day(customer.card_exp_year, customer.card_exp_month)) <= horizon)
        ):
            score, note = 70, f"Paid up, but the card on file stops working after {last_day:%-d %b %Y}"
        elif subscription.status == SubscriptionStatus.TRIALING:
            score, note = 100, "In its trial: nothing due yet"
        else:
            score, note = 100, "Paid up"
        found[tenant_id] = {"payment_score": score, "payment_note": note}
    return found
