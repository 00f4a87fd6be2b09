"""The plans' list prices, here below billing and onboarding so both read the same numbers:
billing charges them (through Stripe prices), the signup form shows them. Tiers and prices
from the CS strategy seed (004): Starter $19, Professional $49, Business $99 a month."""

from __future__ import annotations

from .models import Tenant

PLAN_PRICE_CENTS: dict[str, int] = {
    Tenant.Plan.STARTER: 1900,
    Tenant.Plan.PROFESSIONAL: 4900,
    Tenant.Plan.BUSINESS: 9900,
}


def plan_price_label(plan: str) -> str:
    """What a person reads beside the plan: 4900 → “$49/month”."""
    return f"${PLAN_PRICE_CENTS[plan] / 100:,.0f}/month"
