"""Churn from billing facts: a canceled subscription (at once, or at its period end) or a
lapsed trial moves the tenant's lifecycle to churned on the cancellation's effective date,
and billing ops or the CSM record why (seed 002's taxonomy, tenants.models.ChurnReason).

Level-triggered (DESIGN principle 1): the `billing.trials` tick job looks at each live
tenant's current subscription and trial and churns those whose end has come. A cancellation
at period end takes effect on that date — not when Stripe's “cancel_at_period_end” update
arrives — and a lost `customer.subscription.deleted` delays nothing, since the scheduled
date alone is enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Q

from tenants.models import ChurnReason, Tenant
from tenants.services import tenant_mark_churned, tenant_reactivate

from .models import PAST_DUE_STATUSES, Subscription, SubscriptionStatus, Trial
from .selectors import ENDED, subscriptions_current

RECENT_CHURN_DAYS = 30


@dataclass(frozen=True)
class ChurnDue:
    tenant: Tenant
    at: datetime  # the effective date
    reason: str  # a ChurnReason value, or "" when nobody can know yet
    note: str  # what happened, for the people who record the reason


def _scheduled_end(subscription: Subscription) -> datetime | None:
    if subscription.cancel_at is not None:
        return subscription.cancel_at
    return subscription.current_period_end if subscription.cancel_at_period_end else None


def _payment_failure(subscription: Subscription) -> bool:
    # Stripe says so (cancellation_details.reason), or it was canceled while past due.
    return subscription.cancellation_reason == "payment_failed" or subscription.ended_from in PAST_DUE_STATUSES


def churn_due_for(
    *, tenant: Tenant, subscription: Subscription | None, trial: Trial | None, now: datetime
) -> ChurnDue | None:
    """When and why this tenant churns, if its current subscription or trial says it does —
    possibly in the future (a cancellation scheduled for the period end)."""
    if subscription is not None:
        if subscription.status == SubscriptionStatus.CANCELED:
            at = subscription.ended_at or subscription.canceled_at or subscription.state_at
            if subscription.ended_from == SubscriptionStatus.TRIALING:
                return ChurnDue(tenant, at, "", "The free trial ended without a card.")
            if _payment_failure(subscription):
                return ChurnDue(tenant, at, ChurnReason.PAYMENT_FAILURE, "Canceled after failed payments.")
            return ChurnDue(tenant, at, "", "Subscription canceled.")
        if subscription.status not in ENDED:
            # Live: it churns only on a scheduled cancellation's date — Stripe's deleted event
            # may be late or lost, and the date alone is the fact.
            scheduled = _scheduled_end(subscription)
            if scheduled is None:
                return None  # whatever an older trial did, they stayed
            return ChurnDue(tenant, scheduled, "", "Canceled at the end of the billing period.")
    # A lapsed trial churns the tenant only where billing is connected: without Stripe there
    # was no card form, so the lapse is shown to billing ops but is not the customer leaving.
    if (
        trial is not None
        and trial.status == Trial.Status.LAPSED
        and trial.lapsed_at is not None
        and settings.STRIPE_SECRET_KEY
    ):
        return ChurnDue(tenant, trial.lapsed_at, "", "The free trial ended without a card.")
    return None


def tenants_churn_due(*, now: datetime) -> list[ChurnDue]:
    """Every live tenant whose cancellation or lapsed trial has taken effect by `now`."""
    candidates = (
        Tenant.objects.exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .filter(
            Q(subscriptions__status=SubscriptionStatus.CANCELED)
            | Q(subscriptions__cancel_at__lte=now)
            | Q(subscriptions__cancel_at_period_end=True, subscriptions__current_period_end__lte=now)
            | Q(trial__status=Trial.Status.LAPSED)
        )
        .distinct()
        .order_by("id")
    )
    tenants = list(candidates)
    current = subscriptions_current(tenant_ids=[t.id for t in tenants])
    trials = {t.tenant_id: t for t in Trial.all_tenants.filter(tenant__in=tenants)}
    found = []
    for tenant in tenants:
        due = churn_due_for(tenant=tenant, subscription=current.get(tenant.id), trial=trials.get(tenant.id), now=now)
        if due is not None and due.at <= now:
            found.append(due)
    return found


def tenants_churn(*, now: datetime) -> int:
    """The tick job's churn step: marks each due tenant churned on its effective date."""
    churned = 0
    for due in tenants_churn_due(now=now):
        tenant = tenant_mark_churned(
            tenant=due.tenant, at=due.at, reason=due.reason, note=due.note, actor=None, now=now
        )
        churned += tenant.churned_at == due.at
    return churned


def tenants_reactivate(*, now: datetime) -> int:
    """The other direction: a churned tenant whose current subscription is live again (it
    subscribed anew, or a lost webhook had it look canceled) is a customer again — scored,
    scheduled and in billing ops' queue. Only a subscription that took its live state after
    the churn counts, so a stale mirror cannot undo a churn that happened later."""
    churned = list(Tenant.objects.filter(lifecycle_stage=Tenant.LifecycleStage.CHURNED, churned_at__isnull=False))
    if not churned:
        return 0
    current = subscriptions_current(tenant_ids=[t.id for t in churned])
    reactivated = 0
    for tenant in churned:
        subscription = current.get(tenant.id)
        if subscription is None or subscription.status in ENDED or subscription.state_at <= tenant.churned_at:
            continue
        scheduled = _scheduled_end(subscription)
        if scheduled is not None and scheduled <= now:
            continue  # it ends (or ended) anyway: tenants_churn keeps it churned
        tenant_reactivate(
            tenant=tenant,
            at=subscription.state_at,
            why=f"{subscription.get_status_display().lower()} subscription since {subscription.state_at:%-d %b %Y}",
            actor=None,
            now=now,
        )
        reactivated += 1
    return reactivated


def churn_reason_record(*, tenant: Tenant, reason: str, note: str, actor: AbstractBaseUser, now: datetime) -> Tenant:
    """Billing ops or the CSM say why a churned tenant left (audited, on the timeline)."""
    if tenant.lifecycle_stage != Tenant.LifecycleStage.CHURNED:
        raise ValidationError(
            {"reason": [f"{tenant.name} has not churned: record the reason once the cancellation takes effect."]}
        )
    if not reason:
        raise ValidationError({"reason": ["Choose why they left."]})
    return tenant_mark_churned(tenant=tenant, at=tenant.churned_at, reason=reason, note=note, actor=actor, now=now)


def churned_recently(*, now: datetime, days: int = RECENT_CHURN_DAYS) -> list[Tenant]:
    """Tenants churned in the last `days` days, and any whose reason is still missing: the
    billing queue's “Churn” list, reason to record first."""
    since = now - timedelta(days=days)
    return list(
        Tenant.objects.filter(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .filter(Q(churned_at__gte=since) | Q(churn_reason=""))
        .select_related("csm_owner")
        .order_by("-churned_at", "name")[:100]
    )
