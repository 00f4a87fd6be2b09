"""Demo billing history for seed_demo: every demo tenant's Stripe story — a 14-day trial, then
active, upgraded, past due at several retry stages, unpaid, recovered (some after day 14),
canceled — told as the webhook events Stripe would have sent, signed and fed through the
same service as real ones. No row is written any other way.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.test import override_settings

from tenants.models import Tenant

from . import payloads
from .models import Customer
from .plans import PLANS
from .webhooks import stripe_event_process

DEMO_PRICES = {key: f"price_demo_{key}" for key in PLANS}
UPGRADE = {"starter": "professional", "professional": "business"}
TRIAL_DAYS = 14
# The stories a tenant past its trial can have; which one is part of the tenant's one demo
# story (cs_cockpit.demo_data), so its bill agrees with its usage and onboarding.
STORIES = (
    "active",
    "upgraded",
    "past_due",
    "unpaid",
    "recovered_early",
    "recovered_late",
    "canceled",
    "trial_lapsed",
    "cancel_at_period_end",
)


@dataclass(frozen=True)
class BillingPlan:
    """One tenant's Stripe story; `canceled_at` is when a "canceled" story cancels (the day
    its usage stopped), None to leave it active for now."""

    story: str
    canceled_at: datetime | None = None


class _Teller:
    """Signs and feeds one tenant's events in time order."""

    def __init__(self, tenant: Tenant, secret: str, now: datetime, prices: dict[str, str]) -> None:
        self.tenant, self.secret, self.now, self.prices = tenant, secret, now, prices
        self.customer_id = f"cus_demo_{tenant.external_id}"
        self.subscription_id = f"sub_demo_{tenant.external_id}"
        self.plan = tenant.plan
        self.invoice_number = 0
        self.events = 0

    def feed(self, event_type: str, obj: dict, at: datetime) -> None:
        if at > self.now:
            return  # the story's future has not happened yet
        body = payloads.event_payload(event_type=event_type, obj=obj, created=at)
        signature = payloads.signature_for(body, secret=self.secret)
        stripe_event_process(payload=body, signature=signature, now=at, secret=self.secret)
        self.events += 1

    def subscription(self, event_type: str, status: str, at: datetime, **extra: object) -> None:
        plan = extra.pop("plan", self.plan)
        obj = payloads.subscription_object(
            subscription_id=self.subscription_id,
            customer_id=self.customer_id,
            status=status,
            price_id=self.prices[plan],
            unit_amount=PLANS[plan].price_cents,
            period_start=extra.pop("period_start", at),
            tenant=self.tenant.external_id,
            **extra,
        )
        self.feed(event_type, obj, at)

    def invoice(self, event_type: str, at: datetime, *, attempt: int, next_in_days: float | None) -> None:
        obj = payloads.invoice_object(
            invoice_id=f"in_demo_{self.tenant.external_id}_{self.invoice_number}",
            customer_id=self.customer_id,
            subscription_id=self.subscription_id,
            status="paid" if event_type == "invoice.paid" else "open",
            amount_due=PLANS[self.plan].price_cents,
            created=at - timedelta(hours=attempt),
            attempt_count=attempt,
            next_payment_attempt=at + timedelta(days=next_in_days) if next_in_days else None,
            tenant=self.tenant.external_id,
        )
        self.feed(event_type, obj, at)

    def past_due(self, start: datetime, days: int) -> datetime:
        """A failed renewal and Stripe's retries (days 0, 3, 5, 7; then unpaid) over `days` days."""
        self.invoice_number += 1
        retries = [0, 3, 5, 7]
        self.invoice("invoice.payment_failed", start, attempt=1, next_in_days=3)
        self.subscription("customer.subscription.updated", "past_due", start + timedelta(seconds=1))
        for attempt, day in enumerate(retries[1:], start=2):
            if day <= days:
                following = retries[attempt] - day if attempt < len(retries) else None
                self.invoice(
                    "invoice.payment_failed", start + timedelta(days=day), attempt=attempt, next_in_days=following
                )
        return start + timedelta(days=days)


def seed_subscriptions(*, now: datetime, plans: Mapping[str, BillingPlan], seed: int = 2026) -> int:
    """Tells each demo tenant without a Stripe customer its story; answers the events fed.
    An installation without STRIPE_PRICE_* (the embedded demo) maps the demo's own price ids
    to the plans while seeding, so the mirror knows each subscription's plan."""
    prices = {plan.price_setting: plan.price_id or DEMO_PRICES[key] for key, plan in PLANS.items()}
    with override_settings(**prices):
        return _seed(
            now=now, seed=seed, plans=plans, prices={key: prices[plan.price_setting] for key, plan in PLANS.items()}
        )


def _seed(*, now: datetime, seed: int, plans: Mapping[str, BillingPlan], prices: dict[str, str]) -> int:
    rng = random.Random(seed + 7)
    secret = settings.STRIPE_WEBHOOK_SECRET or f"whsec_demo_{secrets.token_hex(8)}"
    with_customer = set(Customer.objects.exclude(tenant=None).values_list("tenant_id", flat=True))
    fed = 0
    for tenant in Tenant.objects.filter(external_id__in=list(plans)).order_by("external_id"):
        billing_plan = plans[tenant.external_id]
        story, card_soon, retry_days, recovery_day = (
            billing_plan.story,
            rng.random() < 0.08,
            rng.randint(1, 12),
            rng.choice([3, 5, 18, 25, 40]),
        )
        if tenant.id in with_customer:
            continue
        teller = _Teller(tenant, secret, now, prices)
        signup = tenant.signed_up_at
        expiry = (now + timedelta(days=20)) if card_soon else (now + timedelta(days=rng.randint(120, 900)))
        payment_method = payloads.payment_method_object(
            payment_method_id=f"pm_demo_{tenant.external_id}",
            customer_id=teller.customer_id,
            exp_month=expiry.month,
            exp_year=expiry.year,
            last4=f"{rng.randint(0, 9999):04d}",
        )
        customer = payloads.customer_object(
            customer_id=teller.customer_id,
            email=tenant.owner_email,
            name=tenant.name,
            tenant=tenant.external_id,
            payment_method=payment_method,
        )
        teller.feed("customer.created", customer, signup)
        trial_end = signup + timedelta(days=TRIAL_DAYS)
        teller.subscription(
            "customer.subscription.created", "trialing", signup + timedelta(seconds=5), trial_end=trial_end
        )
        session = payloads.checkout_session_object(
            session_id=f"cs_demo_{tenant.external_id}",
            customer_id=teller.customer_id,
            subscription_id=teller.subscription_id,
            tenant=tenant.external_id,
        )
        teller.feed("checkout.session.completed", session, signup + timedelta(seconds=10))
        if trial_end > now:
            fed += teller.events
            continue
        if story == "trial_lapsed":
            teller.subscription("customer.subscription.deleted", "canceled", trial_end, canceled_at=trial_end)
            fed += teller.events
            continue
        teller.subscription("customer.subscription.updated", "active", trial_end, period_start=trial_end)
        teller.invoice_number += 1
        teller.invoice("invoice.paid", trial_end + timedelta(minutes=5), attempt=1, next_in_days=None)
        life = (now - trial_end).days
        if story == "upgraded" and tenant.plan in UPGRADE and life > 10:
            teller.plan = UPGRADE[tenant.plan]
            teller.subscription("customer.subscription.updated", "active", trial_end + timedelta(days=life // 2))
        elif story in ("past_due", "unpaid"):
            days = min(retry_days if story == "past_due" else 16, life)
            start = now - timedelta(days=days, hours=2)
            teller.past_due(start, days)
            if story == "unpaid" and days >= 14:
                teller.subscription("customer.subscription.updated", "unpaid", start + timedelta(days=14))
        elif story in ("recovered_early", "recovered_late") and life > 20:
            length = recovery_day if story == "recovered_late" else min(recovery_day, 5)
            start = trial_end + timedelta(days=max(1, life - length - 10))
            paid = teller.past_due(start, min(length, 7)) + timedelta(days=max(0, length - 7))
            if paid < now:
                teller.invoice("invoice.paid", paid, attempt=4 if length > 7 else 2, next_in_days=None)
                teller.subscription("customer.subscription.updated", "active", paid + timedelta(seconds=1))
        elif story == "canceled" and billing_plan.canceled_at is not None:
            at = billing_plan.canceled_at
            teller.subscription("customer.subscription.deleted", "canceled", at, canceled_at=at)
        elif story == "cancel_at_period_end":
            teller.subscription(
                "customer.subscription.updated",
                "active",
                now - timedelta(days=1),
                cancel_at_period_end=True,
                period_start=now - timedelta(days=10),
            )
        fed += teller.events
    return fed
