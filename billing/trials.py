"""Free trials: started at signup without a card, created in Stripe by the tick, settled by
the tick (converted on the first paid invoice, lapsed when it ends without one).

Stripe is never called inside a database transaction: signup records the trial (a signup
hook, inside the signup's transaction), and the `billing.trials` tick job creates the
trialing subscription afterwards — retrying with a growing pause while Stripe is down or
a price is missing, one subscription per tenant whatever happens thanks to the idempotency
key. “Add a card” may create it first, with the same key, when the owner is quicker than the
tick. Without STRIPE_SECRET_KEY the local trial is the whole trial.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Min, OuterRef, Q
from django.urls import reverse

from core.events import TimelineKind
from tenants.hooks import OwnerNotice
from tenants.models import Tenant
from tenants.services import timeline_record

from .gateway import stripe_client
from .models import Invoice, Subscription, SubscriptionChange, SubscriptionStatus, Trial
from .plans import PLANS, money, trial_days
from .selectors import ENDED, subscription_for_tenant, subscriptions_current
from .services import BillingError, BillingUnavailable, RedirectTo, _stripe_call, customer_ensure

logger = logging.getLogger(__name__)

MAX_RETRY_PAUSE = timedelta(hours=6)
CLAIM_LEASE = timedelta(minutes=2)  # how long a tick holds a trial it is creating in Stripe
DAY = timedelta(days=1)


# --- starting a trial ----------------------------------------------------------------------


def trial_refusal(*, tenant: Tenant) -> str:
    """Why `tenant` cannot start a free trial, or "" when it can."""
    existing = Trial.objects.for_tenant(tenant).first()
    if existing is not None:
        return (
            f"{tenant.name} already had its free trial ({existing.started_at:%-d %b %Y} – "
            f"{existing.ends_at:%-d %b %Y}): there is one free trial per account."
        )
    if Subscription.objects.for_tenant(tenant).exists():
        return f"{tenant.name} already has a Stripe subscription: the free trial is for new accounts."
    return ""


def trial_start(*, tenant: Tenant, now: datetime) -> Trial | None:
    """Starts the free trial of the tenant's plan (BILLING_TRIAL_DAYS; none when 0), without
    a card. A tenant that already had one is refused with the reason (ValidationError)."""
    days = trial_days()
    if not days:
        return None
    refusal = trial_refusal(tenant=tenant)
    if refusal:
        raise ValidationError({"trial": [refusal]})
    plan = PLANS[tenant.plan]
    ends_at = now + timedelta(days=days)
    with transaction.atomic():
        try:
            # Savepoint: two starts at once both pass the check above; the unique tenant
            # lets one insert, and the other is refused like any second trial.
            with transaction.atomic():
                trial = Trial.objects.create(
                    tenant=tenant,
                    plan=plan.key,
                    started_at=now,
                    ends_at=ends_at,
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError:
            raise ValidationError({"trial": [f"{tenant.name} already had its free trial."]}) from None
        timeline_record(
            tenant=tenant,
            at=now,
            kind=TimelineKind.TRIAL_STARTED,
            summary=f"Free trial of {plan.name} started: {days} days, until {ends_at:%-d %b %Y}, no card needed",
            data={"plan": plan.key, "ends_at": ends_at.isoformat()},
        )
    return trial


def trial_start_at_signup(*, tenant: Tenant, now: datetime) -> None:
    """The signup hook (tenants.hooks), run inside the signup's transaction."""
    trial_start(tenant=tenant, now=now)


# --- the Stripe side -----------------------------------------------------------------------


def trial_subscription_ensure(*, trial: Trial, now: datetime) -> str:
    """The trial's Stripe subscription id, created if Stripe does not have it yet: trialing
    until the trial's own end, no card, and canceled by Stripe if the trial ends without one.
    Raises BillingError (not configured, no price, Stripe refused)."""
    if trial.stripe_subscription_id:
        return trial.stripe_subscription_id
    tenant = trial.tenant
    plan = PLANS[trial.plan]
    client = _stripe_call("connect", stripe_client)  # not configured: say that first
    if not plan.price_id:
        raise BillingUnavailable(f"The {plan.name} plan has no Stripe price: set {plan.price_setting}.")
    customer = customer_ensure(tenant=tenant, now=now)
    created = _stripe_call(
        "start the free trial",
        lambda: client.v1.subscriptions.create(
            params={
                "customer": customer.stripe_id,
                "items": [{"price": plan.price_id, "quantity": 1}],
                # The end recorded at signup, not trial_period_days counted from now: the tick
                # (or a retry after an outage) may run later, and the owner was promised a date.
                "trial_end": int(trial.ends_at.timestamp()),
                "trial_settings": {"end_behavior": {"missing_payment_method": "cancel"}},
                "payment_settings": {"save_default_payment_method": "on_subscription"},
                "metadata": {"tenant": tenant.external_id},
            },
            # One subscription per tenant: the tick, a second tick and the owner's “Add a card”
            # send the same key with the same parameters, and Stripe answers them all alike.
            options={"idempotency_key": f"trial-subscription:{tenant.external_id}"},
        ),
    )
    Trial.all_tenants.filter(pk=trial.pk).update(
        stripe_subscription_id=created.id, stripe_error="", stripe_retry_at=None, updated_at=now
    )
    trial.stripe_subscription_id, trial.stripe_error, trial.stripe_retry_at = created.id, "", None
    timeline_record(
        tenant=tenant,
        at=now,
        kind=TimelineKind.TRIAL_STRIPE,
        summary=f"Free trial set up in Stripe (subscription {created.id}), ending {trial.ends_at:%-d %b %Y}",
        data={"subscription": created.id},
    )
    return created.id


def _retry_pause(attempts: int) -> timedelta:
    return min(timedelta(minutes=2**attempts), MAX_RETRY_PAUSE)


def trials_create_in_stripe(*, now: datetime, limit: int = 50) -> tuple[int, int]:
    """The tick job's first half: trials Stripe does not have yet get their subscription.
    Answers (created, failed); a failure is recorded on the trial and retried later."""
    if not settings.STRIPE_SECRET_KEY:
        return 0, 0  # the local trial is the whole trial
    has_subscription = Subscription.all_tenants.filter(tenant=OuterRef("tenant"))
    due = list(
        Trial.all_tenants.filter(status=Trial.Status.TRIALING, stripe_subscription_id="", ends_at__gt=now)
        .filter(Q(stripe_retry_at__isnull=True) | Q(stripe_retry_at__lte=now))
        .exclude(Exists(has_subscription))  # Checkout (or Stripe itself) got there first
        .select_related("tenant")
        .order_by("started_at")[:limit]
    )
    created = failed = 0
    for trial in due:
        with transaction.atomic():
            # Claim: a second tick running now skips a row this one holds (SKIP LOCKED) or has
            # leased (stripe_retry_at moved past now), so Stripe is asked once per trial at a
            # time. The lease is committed before the call: no Stripe call inside a transaction.
            claimed = (
                Trial.all_tenants.select_for_update(skip_locked=True)
                .filter(pk=trial.pk, status=Trial.Status.TRIALING, stripe_subscription_id="")
                .filter(Q(stripe_retry_at__isnull=True) | Q(stripe_retry_at__lte=now))
                .update(stripe_retry_at=now + CLAIM_LEASE)
            )
        if not claimed:
            continue
        try:
            trial_subscription_ensure(trial=trial, now=now)
            created += 1
        except BillingError as exc:
            failed += 1
            attempts = trial.stripe_attempts + 1
            logger.warning("billing: trial of %s not created in Stripe: %s", trial.tenant.external_id, exc)
            # Conditional: “Add a card” may have created it meanwhile; its success stands.
            Trial.all_tenants.filter(pk=trial.pk, stripe_subscription_id="").update(
                stripe_attempts=attempts,
                stripe_retry_at=now + _retry_pause(attempts),
                stripe_error=str(exc)[:500],
                updated_at=now,
            )
    return created, failed


def trial_card_session_create(*, tenant: Tenant, now: datetime, return_url: str) -> RedirectTo:
    """“Add a card”: Stripe's portal, opened on its add-a-payment-method page. A trial Stripe
    does not have yet is created first (same key as the tick's)."""
    client = _stripe_call("connect", stripe_client)  # not configured: say that first
    trial = Trial.objects.for_tenant(tenant).select_related("tenant").first()
    if (
        trial is not None
        and trial.status == Trial.Status.TRIALING
        and not Subscription.objects.for_tenant(tenant).exists()
    ):
        trial_subscription_ensure(trial=trial, now=now)
    customer = customer_ensure(tenant=tenant, now=now)
    session = _stripe_call(
        "open the card form",
        lambda: client.v1.billing_portal.sessions.create(
            params={
                "customer": customer.stripe_id,
                "return_url": return_url,
                "flow_data": {"type": "payment_method_update"},
            },
            options={"idempotency_key": f"portal-card:{customer.stripe_id}:{now:%Y%m%d%H%M%S}"},
        ),
    )
    return RedirectTo(session.url)


# --- settling: adopted, converted, lapsed ------------------------------------------------------


def _trials_adopt(*, now: datetime) -> int:
    """A Stripe trial the app did not start (Checkout, or made in Stripe's dashboard) becomes
    the tenant's trial too, so one trial per tenant and the conversion and lapse below hold
    for every trial. Started when the mirror first saw it trialing."""
    has_trial = Trial.all_tenants.filter(tenant=OuterRef("tenant"))
    subscriptions = list(
        # Trialing now only: Stripe keeps trial_end on a subscription forever, and a customer
        # who converted (or left) long ago is not starting a trial today.
        Subscription.all_tenants.filter(
            tenant__isnull=False, trial_end__isnull=False, status=SubscriptionStatus.TRIALING
        )
        .exclude(Exists(has_trial))
        .select_related("tenant")
        .order_by("id")
    )
    if not subscriptions:
        return 0
    first_seen = dict(
        SubscriptionChange.objects.filter(subscription__in=subscriptions, status=SubscriptionStatus.TRIALING)
        .values("subscription_id")
        .annotate(first=Min("at"))
        .values_list("subscription_id", "first")
    )
    rows, seen = [], set()
    for s in subscriptions:
        if s.tenant_id in seen:
            continue
        seen.add(s.tenant_id)
        started = first_seen.get(s.id) or s.created_at
        rows.append(
            Trial(
                tenant=s.tenant,
                plan=s.plan or s.tenant.plan,
                started_at=min(started, s.trial_end),
                ends_at=s.trial_end,
                stripe_subscription_id=s.stripe_id,
                created_at=now,
                updated_at=now,
            )
        )
    # ignore_conflicts: a second tick adopting the same tenant at once inserts nothing.
    Trial.all_tenants.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _trials_convert(*, now: datetime) -> int:
    """A trial converts when the tenant's first invoice with money on it is paid (Stripe's
    $0 invoice at the trial's start is not a payment)."""
    trialing = Trial.all_tenants.filter(status=Trial.Status.TRIALING)
    first_paid = (
        Invoice.all_tenants.filter(
            tenant_id__in=trialing.values("tenant_id"), status="paid", amount_paid_cents__gt=0, paid_at__lte=now
        )
        .values("tenant_id")
        .annotate(first=Min("paid_at"))
        .order_by()
    )
    paid = {row["tenant_id"]: row["first"] for row in first_paid}
    converted = 0
    for trial in trialing.filter(tenant_id__in=list(paid)).select_related("tenant"):
        # Conditional: of two ticks settling the same trial, the second updates nothing.
        if not Trial.all_tenants.filter(pk=trial.pk, status=Trial.Status.TRIALING).update(
            status=Trial.Status.CONVERTED, converted_at=paid[trial.tenant_id], updated_at=now
        ):
            continue
        invoice = (
            Invoice.all_tenants.filter(
                tenant_id=trial.tenant_id, status="paid", amount_paid_cents__gt=0, paid_at=paid[trial.tenant_id]
            )
            .order_by("id")
            .first()
        )
        amount = f" of {money(invoice.amount_paid_cents, invoice.currency)}" if invoice else ""
        timeline_record(
            tenant=trial.tenant,
            at=paid[trial.tenant_id],
            kind=TimelineKind.TRIAL_CONVERTED,
            summary=f"Trial converted to paid: first invoice{amount} paid",
            data={"invoice": invoice.stripe_id if invoice else ""},
        )
        converted += 1
    return converted


def _lapsed_at(trial: Trial, current: Subscription | None, now: datetime) -> datetime | None:
    if current is not None:
        # Stripe has the trial: it lapsed when Stripe ended the subscription without a payment.
        if current.status in ENDED:
            return current.ended_at or current.canceled_at or current.state_at
        return None
    if trial.stripe_subscription_id:
        return None  # created in Stripe, its events not here yet: Stripe decides, not our clock
    return trial.ends_at if trial.ends_at <= now else None


def _trials_lapse(*, now: datetime) -> int:
    trialing = list(Trial.all_tenants.filter(status=Trial.Status.TRIALING).select_related("tenant"))
    current = subscriptions_current(tenant_ids=[t.tenant_id for t in trialing])
    lapsed = 0
    for trial in trialing:
        at = _lapsed_at(trial, current.get(trial.tenant_id), now)
        if at is None:
            continue
        if not Trial.all_tenants.filter(pk=trial.pk, status=Trial.Status.TRIALING).update(
            status=Trial.Status.LAPSED, lapsed_at=at, updated_at=now
        ):
            continue
        timeline_record(
            tenant=trial.tenant,
            at=at,
            kind=TimelineKind.TRIAL_LAPSED,
            summary=f"Free trial of {PLANS[trial.plan].name} lapsed: it ended without a card",
            data={"subscription": trial.stripe_subscription_id},
        )
        lapsed += 1
    return lapsed


@dataclass(frozen=True)
class SettleResult:
    adopted: int
    converted: int
    lapsed: int


def trials_settle(*, now: datetime) -> SettleResult:
    """Level-triggered: whatever webhooks came or were lost, the facts decide. Conversion is
    looked at first, so a trial whose invoice was paid is never called lapsed."""
    adopted = _trials_adopt(now=now)
    converted = _trials_convert(now=now)
    return SettleResult(adopted=adopted, converted=converted, lapsed=_trials_lapse(now=now))


# --- what the owner and the cockpit read -------------------------------------------------------


@dataclass(frozen=True)
class TrialView:
    status: str  # Trial.Status
    plan_name: str
    started_at: datetime
    ends_at: datetime
    days_left: int
    has_card: bool
    in_stripe: bool

    @property
    def can_add_card(self) -> bool:
        # Only where billing is connected: without Stripe there is no card form to open, and
        # an owner must never meet a button that can only fail.
        return bool(settings.STRIPE_SECRET_KEY) and not self.has_card

    @property
    def running(self) -> bool:
        return self.status == Trial.Status.TRIALING

    @property
    def headline(self) -> str:
        if self.status == Trial.Status.CONVERTED:
            return "Trial converted to paid"
        if self.status == Trial.Status.LAPSED or self.days_left <= 0:
            return "Trial ended"
        return f"Trial — {self.days_left} day{'s' if self.days_left != 1 else ''} left"


def _days_left(ends_at: datetime, now: datetime) -> int:
    # Whole days, rounded up: a trial ending in 13 days and 2 hours has 14 days left.
    remaining = ends_at - now
    if remaining <= timedelta(0):
        return 0
    return remaining.days + (1 if remaining % DAY else 0)


_UNREAD = object()


def trial_for_tenant(
    *, tenant: Tenant, now: datetime, subscription: Subscription | object | None = _UNREAD
) -> TrialView | None:
    """The tenant's trial as the owner and staff see it: Stripe's subscription when Stripe has
    it (its trial end, and whether a card is on file), else the local record. A page that has
    already read the subscription passes it (one query fewer)."""
    trial = Trial.objects.for_tenant(tenant).first()
    if subscription is _UNREAD:
        subscription = subscription_for_tenant(tenant=tenant)
    assert subscription is None or isinstance(subscription, Subscription)
    if subscription is not None and subscription.status == SubscriptionStatus.TRIALING and subscription.trial_end:
        customer = subscription.customer
        return TrialView(
            status=Trial.Status.TRIALING,
            plan_name=subscription.plan_name,
            started_at=trial.started_at if trial else subscription.created_at,
            ends_at=subscription.trial_end,
            days_left=_days_left(subscription.trial_end, now),
            has_card=bool(customer and customer.default_payment_method),
            in_stripe=True,
        )
    if trial is None or (subscription is not None and trial.status == Trial.Status.TRIALING):
        return None  # no trial, or Stripe's subscription has moved on and the tick will settle it
    return TrialView(
        status=trial.status,
        plan_name=PLANS[trial.plan].name,
        started_at=trial.started_at,
        ends_at=trial.ends_at,
        days_left=_days_left(trial.ends_at, now) if trial.status == Trial.Status.TRIALING else 0,
        has_card=False,
        in_stripe=bool(trial.stripe_subscription_id),
    )


def trial_notices(*, tenant: Tenant, now: datetime) -> list[OwnerNotice]:
    """The owner notice (tenants.hooks) on the wizard: days left, and “Add a card”."""
    view = trial_for_tenant(tenant=tenant, now=now)
    if view is None or not view.running:
        return []
    if view.has_card:
        detail = f"Your card is on file: the {view.plan_name} plan starts on {view.ends_at:%-d %b %Y}."
        return [OwnerNotice(key="trial", text=view.headline, detail=detail)]
    if not view.can_add_card:
        detail = f"Your free trial of {view.plan_name} ends on {view.ends_at:%-d %b %Y}."
        return [OwnerNotice(key="trial", text=view.headline, detail=detail)]
    return [
        OwnerNotice(
            key="trial",
            text=view.headline,
            detail=f"Your free trial of {view.plan_name} ends on {view.ends_at:%-d %b %Y}. "
            "Add a card to keep your account running after that.",
            action_label="Add a card",
            action_url=reverse("billing:card"),
            tone="warn" if view.days_left <= 3 else "info",
        )
    ]


def trials_lapsed(*, limit: int = 50) -> list[Trial]:
    """Trials that ended without converting, newest first: billing ops' “Lapsed trials”."""
    return list(
        Trial.all_tenants.filter(status=Trial.Status.LAPSED)
        .select_related("tenant", "tenant__csm_owner")
        .order_by("-lapsed_at", "-id")[:limit]
    )


def trial_statuses(*, tenant_ids: list[int]) -> dict[int, str]:
    """subscription_status for tenants with a trial and no Stripe subscription (playbook facts):
    trialing while it runs, canceled once it lapsed — what Stripe would say of its own."""
    words = {Trial.Status.TRIALING: "trialing", Trial.Status.LAPSED: "canceled", Trial.Status.CONVERTED: "active"}
    return {
        tenant_id: words[status]
        for tenant_id, status in Trial.all_tenants.filter(tenant_id__in=tenant_ids).values_list("tenant_id", "status")
    }


def trials_converted_since(*, since: datetime) -> list[Trial]:
    """Trials converted after `since` (the trial_converted playbook trigger)."""
    return list(
        Trial.all_tenants.filter(status=Trial.Status.CONVERTED, converted_at__gt=since)
        .exclude(tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .select_related("tenant", "tenant__csm_owner")
        .order_by("converted_at", "id")
    )
