"""Shared by the billing tests: Stripe settings, and subscriptions moved through states by
signed webhook events fed to the real service (never rows written directly)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from billing import payloads
from billing.webhooks import EventResult, stripe_event_process
from tenants.models import Tenant

SECRET = "whsec_test_secret"
PRICES = {"starter": ("price_starter", 1900), "professional": ("price_pro", 4900), "business": ("price_business", 9900)}


def stripe_settings(settings: Any) -> None:
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.STRIPE_PRICE_STARTER = PRICES["starter"][0]
    settings.STRIPE_PRICE_PROFESSIONAL = PRICES["professional"][0]
    settings.STRIPE_PRICE_BUSINESS = PRICES["business"][0]


def feed(event_type: str, obj: dict[str, Any], *, created: datetime, now: datetime | None = None) -> EventResult:
    body = payloads.event_payload(event_type=event_type, obj=obj, created=created)
    return stripe_event_process(
        payload=body, signature=payloads.signature_for(body, secret=SECRET), now=now or created, secret=SECRET
    )


class StripeStory:
    """One tenant's Stripe customer and subscription, moved through states by webhooks."""

    def __init__(self, tenant: Tenant, *, plan: str = "professional", suffix: str = "") -> None:
        self.tenant = tenant
        self.plan = plan
        key = suffix or tenant.external_id
        self.customer_id, self.subscription_id = f"cus_{key}", f"sub_{key}"
        self.invoices = 0

    def subscription(self, status: str, *, at: datetime, **extra: Any) -> dict[str, Any]:
        price_id, amount = PRICES[extra.pop("plan", self.plan)]
        return payloads.subscription_object(
            subscription_id=self.subscription_id,
            customer_id=self.customer_id,
            status=status,
            price_id=price_id,
            unit_amount=amount,
            period_start=extra.pop("period_start", at),
            tenant=self.tenant.external_id,
            **extra,
        )

    def status(self, status: str, *, at: datetime, event: str = "customer.subscription.updated", **extra: Any):
        return feed(event, self.subscription(status, at=at, **extra), created=at)

    def customer(self, *, at: datetime, exp_month: int = 12, exp_year: int = 2030) -> EventResult:
        payment_method = payloads.payment_method_object(
            payment_method_id=f"pm_{self.customer_id}",
            customer_id=self.customer_id,
            exp_month=exp_month,
            exp_year=exp_year,
        )
        obj = payloads.customer_object(
            customer_id=self.customer_id,
            email=self.tenant.owner_email,
            name=self.tenant.name,
            tenant=self.tenant.external_id,
            payment_method=payment_method,  # expanded: no API call needed
        )
        return feed("customer.updated", obj, created=at)

    def invoice(
        self,
        event_type: str,
        *,
        at: datetime,
        attempt: int = 1,
        next_attempt: timedelta | None = None,
        invoice_number: int | None = None,
    ) -> EventResult:
        if invoice_number is None:
            self.invoices += event_type == "invoice.payment_failed" and attempt == 1
            invoice_number = max(self.invoices, 1)
        status = "paid" if event_type == "invoice.paid" else "open"
        obj = payloads.invoice_object(
            invoice_id=f"in_{self.subscription_id}_{invoice_number}",
            customer_id=self.customer_id,
            subscription_id=self.subscription_id,
            status=status,
            amount_due=PRICES[self.plan][1],
            created=at - timedelta(hours=attempt),
            attempt_count=attempt,
            next_payment_attempt=at + next_attempt if next_attempt else None,
            tenant=self.tenant.external_id,
        )
        return feed(event_type, obj, created=at)

    def go_past_due(self, *, at: datetime) -> None:
        """What Stripe sends when a renewal payment fails: the invoice, then the subscription."""
        self.invoice("invoice.payment_failed", at=at, attempt=1, next_attempt=timedelta(days=3))
        self.status("past_due", at=at + timedelta(seconds=1))
