"""Applying one verified Stripe object to the mirror. Called by webhooks.stripe_event_process
inside the transaction that stored the event; every function answers whom it concerned.

Races: two different events about one subscription (or invoice, or customer) may be applied
at once by two workers. Each locks the mirror row first (`select_for_update`) and rebuilds
it from everything stored, so the second sees the first's change and neither is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction

from core.events import TimelineKind
from tenants.models import Tenant
from tenants.services import timeline_record

from . import history
from .models import Customer, Invoice, StripeEvent, Subscription, SubscriptionChange, SubscriptionStatus
from .plans import PLANS, money, plan_for_price

MONTHS_PER_INTERVAL = {"day": 12 / 365, "week": 12 / 52, "month": 1.0, "year": 12.0}


@dataclass(frozen=True)
class Applied:
    tenant: Tenant | None
    detail: str = ""


def stripe_time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def stripe_ref(value: Any) -> str:
    """A Stripe reference: an id, or an expanded object carrying one."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _tenant_named(metadata: Any) -> tuple[Tenant | None, str]:
    external_id = str((metadata or {}).get("tenant") or "").strip()
    if not external_id:
        return None, ""
    tenant = Tenant.objects.filter(external_id=external_id).first()
    return tenant, "" if tenant else f"metadata.tenant “{external_id}” names no tenant"


def locked_row(model: type, stripe_id: str, defaults: dict[str, Any]) -> Any:
    """The mirror row for `stripe_id`, created if new, locked for this transaction. Two
    workers creating it at once: the unique stripe_id lets one insert; the other's savepoint
    fails and it locks the winner's row instead."""
    manager = model.all_tenants if hasattr(model, "all_tenants") else model.objects
    try:
        with transaction.atomic():
            manager.create(stripe_id=stripe_id, **defaults)
    except IntegrityError:
        pass
    return manager.select_for_update().get(stripe_id=stripe_id)


# --- customers -----------------------------------------------------------------------------


def _customer_link(*, customer: Customer, tenant: Tenant, now: datetime) -> str:
    """Gives the customer (and its unmatched subscriptions and invoices) to `tenant`, unless
    the tenant already has another Stripe customer: then it says so and links nothing."""
    if customer.tenant_id == tenant.id:
        return ""
    if customer.tenant_id is not None:
        return f"customer {customer.stripe_id} already belongs to another tenant"
    if Customer.objects.filter(tenant=tenant).exclude(pk=customer.pk).exists():
        return f"{tenant.external_id} already has another Stripe customer"
    customer.tenant = tenant
    customer.save(update_fields=["tenant", "updated_at"])
    subscriptions_link(Subscription.all_tenants.filter(stripe_customer_id=customer.stripe_id), tenant=tenant, now=now)
    timeline_record(
        tenant=tenant,
        at=now,
        kind=TimelineKind.BILLING_CUSTOMER,
        summary=f"Linked to Stripe customer {customer.stripe_id}",
        data={"customer": customer.stripe_id},
    )
    return ""


def subscriptions_link(subscriptions: Any, *, tenant: Tenant, now: datetime) -> None:
    """Gives unmatched subscriptions (and their invoices) to `tenant`, whose plan then follows
    theirs. Callers hold the customer's lock: customer before subscription, everywhere."""
    for subscription in subscriptions.filter(tenant=None).select_for_update().order_by("id"):
        subscription.tenant = tenant
        subscription.save(update_fields=["tenant", "updated_at"])
        Invoice.all_tenants.filter(subscription=subscription, tenant=None).update(tenant=tenant)
        _plan_to_tenant(subscription, now)


def customer_row(stripe_id: str, now: datetime) -> Customer:
    return locked_row(Customer, stripe_id, {"created_at": now, "updated_at": now})


def _card_set(customer: Customer, payment_method: dict[str, Any]) -> None:
    card = payment_method.get("card") or {}
    customer.default_payment_method = stripe_ref(payment_method)
    customer.card_brand = str(card.get("display_brand") or card.get("brand") or "")[:20]
    customer.card_last4 = str(card.get("last4") or "")[:4]
    customer.card_exp_month = card.get("exp_month")
    customer.card_exp_year = card.get("exp_year")


def customer_apply(
    *, obj: dict[str, Any], event: StripeEvent, payment_method: dict[str, Any] | None, now: datetime
) -> Applied:
    customer = customer_row(obj["id"], now)
    tenant, problem = _tenant_named(obj.get("metadata"))
    if tenant is not None:
        problem = _customer_link(customer=customer, tenant=tenant, now=now) or problem
    # An older event (delivered late) never overwrites what a newer one set.
    if customer.state_at is None or event.created >= customer.state_at:
        customer.email = str(obj.get("email") or "")[:254]
        customer.name = str(obj.get("name") or "")[:200]
        default = stripe_ref((obj.get("invoice_settings") or {}).get("default_payment_method"))
        if payment_method is not None and stripe_ref(payment_method) == default:
            _card_set(customer, payment_method)
            customer.card_state_at = event.created
        elif default != customer.default_payment_method:
            _card_set(customer, {"id": default})  # a new card whose details Stripe did not give us
            customer.card_state_at = event.created
        customer.state_at = event.created
    customer.updated_at = now
    customer.save()
    return Applied(tenant=customer.tenant, detail=problem)


def payment_method_apply(*, obj: dict[str, Any], event: StripeEvent, now: datetime) -> Applied:
    """A card updated in place (a new expiry from the card network): it matters only for the
    customer whose default it is."""
    customer = Customer.objects.select_for_update().filter(default_payment_method=obj.get("id")).first()
    if customer is None:
        return Applied(tenant=None, detail="not the default card of a known customer")
    # Its own clock: a newer rename (customer.updated) must not hide an older card renewal.
    if customer.card_state_at is None or event.created >= customer.card_state_at:
        _card_set(customer, obj)
        customer.card_state_at, customer.updated_at = event.created, now
        customer.save()
    return Applied(tenant=customer.tenant)


def session_apply(*, obj: dict[str, Any], event: StripeEvent, now: datetime) -> Applied:
    """checkout.session.completed: the session names the tenant (metadata.tenant, which the app
    sets) and the customer Stripe made or used — the link that matches later events."""
    tenant, problem = _tenant_named(obj.get("metadata"))
    customer_id = stripe_ref(obj.get("customer"))
    if tenant is None:
        return Applied(tenant=None, detail=problem or "the session carries no metadata.tenant")
    if customer_id:
        problem = _customer_link(customer=customer_row(customer_id, now), tenant=tenant, now=now) or problem
    subscription_id = stripe_ref(obj.get("subscription"))
    if subscription_id:
        subscriptions_link(Subscription.all_tenants.filter(stripe_id=subscription_id), tenant=tenant, now=now)
    timeline_record(
        tenant=tenant,
        at=now,
        kind=TimelineKind.BILLING_CHECKOUT,
        summary="Checkout completed" + (f": subscription {subscription_id}" if subscription_id else ""),
        data={"session": obj.get("id"), "subscription": subscription_id},
    )
    return Applied(tenant=tenant, detail=problem)


# --- subscriptions -------------------------------------------------------------------------


def _quantity(item: dict[str, Any]) -> int:
    quantity = item.get("quantity")
    return 1 if quantity is None else int(quantity)  # 0 is a real quantity: nothing billed


def _list_mrr(items: list[dict[str, Any]]) -> int:
    total = 0.0
    for item in items:
        price = item.get("price") or {}
        recurring = price.get("recurring") or {}
        per_month = MONTHS_PER_INTERVAL.get(recurring.get("interval", "month"), 1.0)
        months = per_month * int(recurring.get("interval_count") or 1)
        if recurring.get("usage_type") == "metered":
            continue  # billed on usage after the fact: not a recurring amount we can know
        total += int(price.get("unit_amount") or 0) * _quantity(item) / months
    return round(total)


def _change_from_object(obj: dict[str, Any]) -> dict[str, Any]:
    items = (obj.get("items") or {}).get("data") or []
    first = items[0] if items else {}
    # Since API 2025-03-31 the period lives on the items; older payloads keep it on top.
    return {
        "status": obj.get("status") or SubscriptionStatus.INCOMPLETE,
        "price_id": stripe_ref(first.get("price")),
        "quantity": sum(_quantity(i) for i in items),
        "currency": str(obj.get("currency") or "usd")[:3],
        "list_mrr_cents": _list_mrr(items),
        "current_period_start": stripe_time(first.get("current_period_start") or obj.get("current_period_start")),
        "current_period_end": stripe_time(first.get("current_period_end") or obj.get("current_period_end")),
        "trial_end": stripe_time(obj.get("trial_end")),
        "cancel_at_period_end": bool(obj.get("cancel_at_period_end")),
        "canceled_at": stripe_time(obj.get("canceled_at")),
        "cancel_at": stripe_time(obj.get("cancel_at")),
        "ended_at": stripe_time(obj.get("ended_at")),
        "cancellation_reason": str((obj.get("cancellation_details") or {}).get("reason") or "")[:40],
    }


def subscription_row(stripe_id: str, *, customer_id: str, event: StripeEvent, now: datetime) -> Subscription:
    return locked_row(
        Subscription,
        stripe_id,
        {
            "stripe_customer_id": customer_id,
            "status": SubscriptionStatus.INCOMPLETE,
            "state_at": event.created,
            "created_at": now,
            "updated_at": now,
        },
    )


def subscription_match(subscription: Subscription, metadata: Any, customer: Customer | None, now: datetime) -> str:
    """Finds the subscription's tenant: its metadata.tenant, else its customer's tenant."""
    tenant, problem = _tenant_named(metadata)
    customer_id = customer.stripe_id if customer else ""
    if tenant is not None and customer is not None and customer.tenant_id is None:
        problem = _customer_link(customer=customer, tenant=tenant, now=now) or problem
    if tenant is not None and subscription.tenant_id not in (None, tenant.id):
        # Never re-home a matched subscription on a metadata value (an invoice's is a snapshot
        # from its creation, and order would decide): billing ops see the conflict instead.
        problem = f"metadata.tenant names {tenant.external_id}, but the subscription belongs to another tenant"
        tenant = None
    tenant = tenant or (customer.tenant if customer and subscription.tenant_id is None else None)
    subscription.customer = customer
    subscription.stripe_customer_id = customer_id or subscription.stripe_customer_id
    if tenant is not None and subscription.tenant_id is None:
        subscription.tenant = tenant
    if subscription.tenant_id is None and not problem:
        problem = "no metadata.tenant and the customer belongs to no tenant"
    return problem


def _describe(subscription: Subscription) -> str:
    plan = PLANS[subscription.plan].name if subscription.plan else subscription.price_id or "unknown price"
    words = {
        SubscriptionStatus.TRIALING: f"Trial of {plan}"
        + (f" until {subscription.trial_end:%-d %b %Y}" if subscription.trial_end else ""),
        SubscriptionStatus.ACTIVE: f"{plan} active, {money(subscription.list_mrr_cents, subscription.currency)}/month",
        SubscriptionStatus.PAST_DUE: f"{plan} past due",
        SubscriptionStatus.UNPAID: f"{plan} unpaid: retries exhausted",
        SubscriptionStatus.CANCELED: f"{plan} canceled",
    }
    return words.get(subscription.status, f"{plan}: {subscription.get_status_display().lower()}")


def subscription_refold(*, subscription: Subscription, now: datetime) -> None:
    """Rebuilds the (locked) mirror from its whole history; a change of status lands on the
    timeline, a change of plan on the tenant."""
    changes = list(
        SubscriptionChange.objects.filter(subscription=subscription).select_related("event").defer("event__payload")
    )
    state = history.fold(changes)
    before = (subscription.status, subscription.plan)
    if state is not None:
        plan = plan_for_price(state.price_id)
        for name in (
            "status",
            "price_id",
            "quantity",
            "currency",
            "list_mrr_cents",
            "mrr_cents",
            "current_period_start",
            "current_period_end",
            "trial_end",
            "cancel_at_period_end",
            "canceled_at",
            "past_due_since",
            "cancel_at",
            "ended_at",
            "cancellation_reason",
            "ended_from",
        ):
            setattr(subscription, name, getattr(state, name))
        subscription.plan = plan.key if plan else ""
        subscription.state_at = state.at
    if subscription.past_due_since is None:
        # A new episode gets a fresh pause and escalation; the old ones stay in the audit log.
        subscription.dunning_paused_at = subscription.escalated_at = None
        subscription.dunning_pause_note = ""
        subscription.dunning_paused_by = subscription.escalated_to = None
        subscription.dunning_resumes = 0
        subscription.dunning_episode_at = None
    subscription.updated_at = now
    subscription.save()
    tenant = subscription.tenant
    if tenant is None or state is None:
        return
    if (subscription.status, subscription.plan) != before:
        timeline_record(
            tenant=tenant,
            at=now,
            kind=TimelineKind.BILLING_SUBSCRIPTION,
            summary=_describe(subscription),
            data={"subscription": subscription.stripe_id, "status": subscription.status, "plan": subscription.plan},
        )
    _plan_to_tenant(subscription, now)


def _plan_to_tenant(subscription: Subscription, now: datetime) -> None:
    """The tenant's plan is its live subscription's (the rest of the product reads Tenant.plan)."""
    tenant = subscription.tenant
    if tenant is None or not subscription.plan or subscription.status == SubscriptionStatus.CANCELED:
        return
    if subscription.plan != tenant.plan:
        Tenant.objects.filter(pk=tenant.pk).update(plan=subscription.plan)
        timeline_record(
            tenant=tenant,
            at=now,
            kind=TimelineKind.BILLING_PLAN,
            summary=f"Plan changed from {PLANS[tenant.plan].name} to {PLANS[subscription.plan].name}",
            data={"from": tenant.plan, "to": subscription.plan},
        )
        tenant.plan = subscription.plan


def subscription_apply(*, obj: dict[str, Any], event: StripeEvent, now: datetime) -> Applied:
    customer_id = stripe_ref(obj.get("customer"))
    # Lock order everywhere: customer, then subscription, then invoice (no deadlock between
    # a subscription's event and the customer.updated that links it).
    customer = customer_row(customer_id, now) if customer_id else None
    subscription = subscription_row(obj["id"], customer_id=customer_id, event=event, now=now)
    problem = subscription_match(subscription, obj.get("metadata"), customer, now)
    SubscriptionChange.objects.create(
        subscription=subscription,
        event=event,
        at=event.created,
        kind=SubscriptionChange.Kind.OBJECT,
        **_change_from_object(obj),
    )
    subscription_refold(subscription=subscription, now=now)
    tenant = subscription.tenant
    if tenant is not None and event.type == "customer.subscription.trial_will_end" and subscription.trial_end:
        timeline_record(
            tenant=tenant,
            at=now,
            kind=TimelineKind.TRIAL_WILL_END,
            summary=f"Trial ends on {subscription.trial_end:%-d %b %Y}",
            data={"subscription": subscription.stripe_id},
        )
    return Applied(tenant=tenant, detail=problem)
