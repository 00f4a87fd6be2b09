"""Stripe event payloads shaped like the current API (2025-03-31 and later: the period on the
subscription items, an invoice's subscription under parent.subscription_details), signed the
way Stripe signs them. seed_demo feeds these through the real webhook service; the tests do
too, and check the shapes against Stripe's own fixture objects.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

import stripe
from django.conf import settings


def _ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def price_object(*, price_id: str, unit_amount: int, interval: str = "month") -> dict[str, Any]:
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "currency": "usd",
        "livemode": False,
        "metadata": {},
        "product": "prod_cscockpit",
        "recurring": {"interval": interval, "interval_count": 1, "meter": None, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def subscription_object(
    *,
    subscription_id: str,
    customer_id: str,
    status: str,
    price_id: str,
    unit_amount: int,
    period_start: datetime,
    tenant: str | None = None,
    quantity: int = 1,
    trial_end: datetime | None = None,
    cancel_at_period_end: bool = False,
    canceled_at: datetime | None = None,
    latest_invoice: str | None = None,
) -> dict[str, Any]:
    period_end = period_start + timedelta(days=30)
    return {
        "id": subscription_id,
        "object": "subscription",
        "billing_cycle_anchor": _ts(period_start),
        "cancel_at": _ts(period_end) if cancel_at_period_end else None,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": _ts(canceled_at),
        "collection_method": "charge_automatically",
        "created": _ts(period_start),
        "currency": "usd",
        "customer": customer_id,
        "ended_at": _ts(canceled_at) if status == "canceled" else None,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{subscription_id.removeprefix('sub_')}",
                    "object": "subscription_item",
                    "created": _ts(period_start),
                    "current_period_end": _ts(period_end),
                    "current_period_start": _ts(period_start),
                    "metadata": {},
                    "price": price_object(price_id=price_id, unit_amount=unit_amount),
                    "quantity": quantity,
                    "subscription": subscription_id,
                    "tax_rates": [],
                }
            ],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        },
        "latest_invoice": latest_invoice,
        "livemode": False,
        "metadata": {"tenant": tenant} if tenant else {},
        "start_date": _ts(period_start),
        "status": status,
        "trial_end": _ts(trial_end),
        "trial_start": _ts(trial_end - timedelta(days=14)) if trial_end else None,
    }


def invoice_object(
    *,
    invoice_id: str,
    customer_id: str,
    subscription_id: str,
    status: str,
    amount_due: int,
    created: datetime,
    attempt_count: int = 0,
    next_payment_attempt: datetime | None = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    paid = status == "paid"
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": amount_due,
        "amount_paid": amount_due if paid else 0,
        "amount_remaining": 0 if paid else amount_due,
        "attempt_count": attempt_count,
        "attempted": attempt_count > 0,
        "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically",
        "created": _ts(created),
        "currency": "usd",
        "customer": customer_id,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": _ts(next_payment_attempt),
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": {"tenant": tenant} if tenant else {}, "subscription": subscription_id},
            "type": "subscription_details",
        },
        "status": status,
        "status_transitions": {
            "finalized_at": _ts(created),
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "total": amount_due,
    }


def customer_object(
    *, customer_id: str, email: str, name: str, tenant: str | None = None, payment_method: Any = None
) -> dict[str, Any]:
    return {
        "id": customer_id,
        "object": "customer",
        "balance": 0,
        "created": int(time.time()),
        "currency": "usd",
        "delinquent": False,
        "email": email,
        "invoice_settings": {"custom_fields": None, "default_payment_method": payment_method, "footer": None},
        "livemode": False,
        "metadata": {"tenant": tenant} if tenant else {},
        "name": name,
    }


def payment_method_object(
    *, payment_method_id: str, customer_id: str, exp_month: int, exp_year: int, last4: str = "4242"
) -> dict[str, Any]:
    return {
        "id": payment_method_id,
        "object": "payment_method",
        "card": {
            "brand": "visa",
            "display_brand": "visa",
            "country": "US",
            "exp_month": exp_month,
            "exp_year": exp_year,
            "funding": "credit",
            "last4": last4,
        },
        "created": int(time.time()),
        "customer": customer_id,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def checkout_session_object(*, session_id: str, customer_id: str, subscription_id: str, tenant: str) -> dict[str, Any]:
    return {
        "id": session_id,
        "object": "checkout.session",
        "client_reference_id": tenant,
        "customer": customer_id,
        "livemode": False,
        "metadata": {"tenant": tenant},
        "mode": "subscription",
        "payment_status": "paid",
        "status": "complete",
        "subscription": subscription_id,
    }


def event_payload(*, event_type: str, obj: dict[str, Any], created: datetime, event_id: str = "") -> bytes:
    event = {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": settings.STRIPE_API_VERSION,
        "created": _ts(created),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(event).encode()


def signature_for(payload: bytes, *, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send: the SDK's own generator."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, timestamp=timestamp)
