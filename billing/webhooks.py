"""Stripe webhooks: verify, store once, apply (CONTRACTS.md → Webhooks).

`stripe_event_process` is the only way events reach the mirror — the webhook view calls it
with the request's raw body, and seed_demo with payloads it signs itself — so a shortcut
write cannot exist.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from .gateway import BillingNotConfigured, stripe_client
from .invoices import invoice_apply
from .mirror import customer_apply, payment_method_apply, session_apply, subscription_apply
from .models import Customer, StripeEvent

logger = logging.getLogger(__name__)
TOLERANCE_SECONDS = 300

SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "customer.subscription.paused",
        "customer.subscription.resumed",
    }
)
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed", "invoice.payment_action_required"})
CUSTOMER_EVENTS = frozenset({"customer.created", "customer.updated"})
PAYMENT_METHOD_EVENTS = frozenset({"payment_method.automatically_updated", "payment_method.updated"})


class WebhookRejected(Exception):
    """The request is not a genuine, fresh Stripe event; nothing was written."""


@dataclass(frozen=True)
class EventResult:
    event_id: str
    type: str
    duplicate: bool
    outcome: str = ""
    detail: str = ""


def _signed_at(signature: str) -> int | None:
    for part in signature.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def event_verify(*, payload: bytes, signature: str | None, secret: str) -> dict[str, Any]:
    """The event in `payload` if `signature` is Stripe's for it under `secret`, signed within
    the last 300 s and not in the future; otherwise WebhookRejected naming why."""
    if not secret:
        raise WebhookRejected("STRIPE_WEBHOOK_SECRET is not set: no event can be verified.")
    if not signature:
        raise WebhookRejected("The Stripe-Signature header is missing.")
    signed_at = _signed_at(signature)
    # The SDK refuses stale timestamps only; a timestamp ahead of our clock is as suspect.
    if signed_at is not None and signed_at > time.time() + TOLERANCE_SECONDS:
        raise WebhookRejected("The signature's timestamp is in the future.")
    try:
        stripe.Webhook.construct_event(payload, signature, secret, tolerance=TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejected(f"The signature does not verify: {exc.user_message or exc}") from None
    except ValueError as exc:
        raise WebhookRejected(f"The body is not a Stripe event: {exc}") from None
    event = json.loads(payload)
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise WebhookRejected("The body is not a Stripe event (no id or type).")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise WebhookRejected("The event carries no data.object.")
    return event


def _fetch_payment_method(event: dict[str, Any]) -> dict[str, Any] | None:
    """customer.updated names its default payment method by id only: fetch the card (outside
    any transaction — a slow Stripe must not hold our locks). None when it is unchanged,
    absent, or Stripe cannot be asked."""
    obj = event["data"]["object"]
    payment_method = (obj.get("invoice_settings") or {}).get("default_payment_method")
    if isinstance(payment_method, dict):
        return payment_method
    if not payment_method:
        return None
    # Known with its details: no call. Known without (an earlier fetch failed): ask again.
    known = (
        Customer.objects.filter(stripe_id=obj.get("id"), default_payment_method=payment_method)
        .exclude(card_last4="")
        .exists()
    )
    if known:
        return None
    try:
        return stripe_client().v1.payment_methods.retrieve(payment_method).to_dict()
    except (BillingNotConfigured, stripe.StripeError) as exc:
        logger.warning("stripe: card of %s not fetched: %s", obj.get("id"), exc)
        return None


def stripe_event_process(
    *, payload: bytes, signature: str | None, now: datetime, secret: str | None = None
) -> EventResult:
    """Verifies one webhook delivery and applies it exactly once."""
    event = event_verify(payload=payload, signature=signature, secret=secret or settings.STRIPE_WEBHOOK_SECRET)
    event_id, event_type = event["id"], event["type"]
    if StripeEvent.objects.filter(event_id=event_id).exists():
        return EventResult(event_id, event_type, duplicate=True)  # the cheap answer to a replay
    payment_method = _fetch_payment_method(event) if event_type in CUSTOMER_EVENTS else None
    created = datetime.fromtimestamp(int(event.get("created") or time.time()), tz=UTC)
    with transaction.atomic():
        try:
            # The replay guard, in the transaction of the effect: a concurrent delivery of the
            # same event waits on this unique index, then fails here and changes nothing.
            with transaction.atomic():
                row = StripeEvent.objects.create(
                    event_id=event_id,
                    type=event_type,
                    created=created,
                    livemode=bool(event.get("livemode")),
                    api_version=str(event.get("api_version") or "")[:40],
                    payload=event,
                    outcome=StripeEvent.Outcome.IGNORED,
                    received_at=now,
                )
        except IntegrityError:
            return EventResult(event_id, event_type, duplicate=True)
        obj = event["data"]["object"]
        if event_type in SUBSCRIPTION_EVENTS:
            applied = subscription_apply(obj=obj, event=row, now=now)
        elif event_type in INVOICE_EVENTS:
            applied = invoice_apply(obj=obj, event=row, now=now)
        elif event_type in CUSTOMER_EVENTS:
            applied = customer_apply(obj=obj, event=row, payment_method=payment_method, now=now)
        elif event_type in PAYMENT_METHOD_EVENTS:
            applied = payment_method_apply(obj=obj, event=row, now=now)
        elif event_type == "checkout.session.completed":
            applied = session_apply(obj=obj, event=row, now=now)
        else:
            applied = None  # stored and acknowledged: Stripe stops retrying, nothing to do
        if applied is not None:
            row.outcome = StripeEvent.Outcome.APPLIED if applied.tenant else StripeEvent.Outcome.UNMATCHED
            row.tenant, row.detail = applied.tenant, applied.detail[:500]
            row.save(update_fields=["outcome", "tenant", "detail"])
    return EventResult(event_id, event_type, duplicate=False, outcome=row.outcome, detail=row.detail)
