"""The three plans of the CS strategy seed (004): Starter $19, Professional $49, Business $99
a month, each with a monthly usage limit the expansion rule reads (“approaching 1,000
conversations” on Starter, 5,000 on Professional; the seed sets no limit for Business).

Stripe price ids come from `STRIPE_PRICE_*`; a price id maps back to its plan through them
(CONTRACTS.md → Webhooks). Limits and the trial length are settings, so an installation can
change them without code.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from tenants.models import Tenant
from tenants.plans import PLAN_PRICE_CENTS


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    price_cents: int
    price_setting: str  # the setting holding its Stripe price id

    @property
    def price_id(self) -> str:
        return getattr(settings, self.price_setting, "") or ""

    @property
    def monthly_limit(self) -> int | None:
        """Usage events (`BILLING_USAGE_EVENT`) included per 30 days; None is unlimited."""
        return settings.BILLING_PLAN_LIMITS.get(self.key)

    @property
    def price_label(self) -> str:
        return f"${self.price_cents / 100:,.0f}/month"


PLANS: dict[str, Plan] = {
    plan.key: plan
    for plan in [
        # The prices live in tenants.plans: the signup form (onboarding) shows the same ones.
        Plan(Tenant.Plan.STARTER, "Starter", PLAN_PRICE_CENTS[Tenant.Plan.STARTER], "STRIPE_PRICE_STARTER"),
        Plan(
            Tenant.Plan.PROFESSIONAL,
            "Professional",
            PLAN_PRICE_CENTS[Tenant.Plan.PROFESSIONAL],
            "STRIPE_PRICE_PROFESSIONAL",
        ),
        Plan(Tenant.Plan.BUSINESS, "Business", PLAN_PRICE_CENTS[Tenant.Plan.BUSINESS], "STRIPE_PRICE_BUSINESS"),
    ]
}


def plan_for_price(price_id: str) -> Plan | None:
    """The plan a Stripe price id belongs to, or None for a price this installation does not sell."""
    if not price_id:
        return None
    return next((plan for plan in PLANS.values() if plan.price_id == price_id), None)


def money(cents: int, currency: str = "usd") -> str:
    """Cents as an amount a person reads: 4900 → “$49.00”."""
    symbol = "$" if currency.lower() == "usd" else f"{currency.upper()} "
    return f"{symbol}{cents / 100:,.2f}"


def trial_days() -> int:
    return settings.BILLING_TRIAL_DAYS
