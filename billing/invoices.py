"""Applying invoice events: the invoice mirror (amount, attempt, next retry, 3-D Secure), and
the payment outcome in its subscription's history. Called inside the event's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tenants.services import timeline_record

from .mirror import (
    Applied,
    customer_row,
    locked_row,
    stripe_ref,
    stripe_time,
    subscription_match,
    subscription_refold,
    subscription_row,
)
from .models import Invoice, StripeEvent, SubscriptionChange
from .plans import money

INVOICE_RANK = {"draft": 0, "open": 1, "uncollectible": 2, "void": 3, "paid": 4}


# --- invoices ------------------------------------------------------------------------------


def _invoice_subscription_id(obj: dict[str, Any]) -> str:
    # Since API 2025-03-31: parent.subscription_details.subscription; before, a top-level field.
    details = ((obj.get("parent") or {}).get("subscription_details")) or {}
    return stripe_ref(details.get("subscription") or obj.get("subscription"))


def _invoice_order(status: str, attempt_count: int, state_at: datetime) -> tuple:
    return (state_at, INVOICE_RANK.get(status, 0), attempt_count)


def _invoice_timeline(invoice: Invoice, event_type: str) -> str:
    amount = money(invoice.amount_due_cents, invoice.currency)
    if event_type == "invoice.paid":
        return f"Invoice of {money(invoice.amount_paid_cents or invoice.amount_due_cents, invoice.currency)} paid"
    if event_type == "invoice.payment_action_required":
        return f"Payment of {amount} needs the customer to confirm it (e.g. 3-D Secure)"
    retry = f"; next retry {invoice.next_payment_attempt:%-d %b %H:%M} UTC" if invoice.next_payment_attempt else ""
    return f"Payment of {amount} failed (attempt {invoice.attempt_count}){retry}"


def invoice_apply(*, obj: dict[str, Any], event: StripeEvent, now: datetime) -> Applied:
    subscription_id = _invoice_subscription_id(obj)
    customer_id = stripe_ref(obj.get("customer"))
    # Lock order: customer, subscription, invoice (as in mirror.py).
    customer = customer_row(customer_id, now) if customer_id else None
    subscription = (
        subscription_row(subscription_id, customer_id=customer_id, event=event, now=now) if subscription_id else None
    )
    invoice = locked_row(
        Invoice,
        obj["id"],
        {
            "status": "draft",
            "created": stripe_time(obj.get("created")) or event.created,
            "state_at": event.created,
            "updated_at": now,
        },
    )
    status, attempts = str(obj.get("status") or "open"), int(obj.get("attempt_count") or 0)
    # An older event (delivered late) never overwrites a newer one; a new row is a draft of
    # this very moment, which any real status outranks.
    applied = _invoice_order(status, attempts, event.created) >= _invoice_order(
        invoice.status, invoice.attempt_count, invoice.state_at
    )
    if applied:
        invoice.status = status
        invoice.amount_due_cents = int(obj.get("amount_due") or 0)
        invoice.amount_paid_cents = int(obj.get("amount_paid") or 0)
        invoice.amount_remaining_cents = int(obj.get("amount_remaining") or 0)
        invoice.currency = str(obj.get("currency") or "usd")[:3]
        invoice.attempt_count = attempts
        invoice.next_payment_attempt = stripe_time(obj.get("next_payment_attempt")) if status == "open" else None
        invoice.needs_action = event.type == "invoice.payment_action_required"
        invoice.hosted_invoice_url = str(obj.get("hosted_invoice_url") or "")[:500]
        invoice.paid_at = stripe_time((obj.get("status_transitions") or {}).get("paid_at")) or (
            event.created if status == "paid" else None
        )
        invoice.state_at = event.created
    invoice.created = stripe_time(obj.get("created")) or invoice.created
    invoice.updated_at = now
    problem = ""
    if subscription is not None:
        metadata = ((obj.get("parent") or {}).get("subscription_details") or {}).get("metadata")
        problem = subscription_match(subscription, metadata, customer, now)
        invoice.subscription = subscription
        # Every payment outcome joins the subscription's history, applied or not: the fold
        # orders them (a payment ends the episode only if it paid the newest failed invoice).
        kind = SubscriptionChange.Kind.PAID if event.type == "invoice.paid" else SubscriptionChange.Kind.FAILED
        SubscriptionChange.objects.create(
            subscription=subscription, event=event, at=event.created, kind=kind, invoice_created=invoice.created
        )
    else:
        invoice.tenant = customer.tenant if customer else None
        problem = "" if invoice.tenant else "the invoice's customer belongs to no tenant"
    if subscription is not None:
        invoice.tenant = subscription.tenant
    invoice.save()
    if subscription is not None:
        subscription.latest_invoice = (
            Invoice.all_tenants.filter(subscription=subscription).order_by("-created", "-id").first()
        )
        subscription_refold(subscription=subscription, now=now)
    if invoice.tenant is not None and applied:
        # A late event (older than what the row shows) is stored, but the timeline already
        # told that part of the story: no second, mislabelled entry.
        timeline_record(
            tenant=invoice.tenant,
            at=now,
            kind=f"billing.{event.type.removeprefix('invoice.')}",
            summary=_invoice_timeline(invoice, event.type),
            data={"invoice": invoice.stripe_id, "attempt": invoice.attempt_count},
        )
    return Applied(tenant=invoice.tenant, detail=problem)
