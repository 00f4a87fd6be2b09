"""Periodic jobs of the billing app, run by the tick."""

from datetime import datetime

from core import ticks

from . import churn, trials


@ticks.register("billing.trials", order=12)
def trials_and_churn(now: datetime) -> str:
    """Trials into Stripe, trials settled, then churn — in that order, so a trial that lapsed
    in this tick churns its tenant in this tick too."""
    created, failed = trials.trials_create_in_stripe(now=now)
    settled = trials.trials_settle(now=now)
    churned = churn.tenants_churn(now=now)
    back = churn.tenants_reactivate(now=now)
    return (
        f"{created} trial(s) created in Stripe ({failed} to retry), {settled.converted} converted, "
        f"{settled.lapsed} lapsed, {settled.adopted} adopted from Stripe; {churned} tenant(s) churned, "
        f"{back} back as customers"
    )
