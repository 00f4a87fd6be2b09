"""The lifecycle's periodic job: the renewal runway, after the playbooks (order 45)."""

from datetime import datetime

from core import ticks

from . import renewals


@ticks.register("lifecycle.renewals", order=45)
def renewal_runway(now: datetime) -> str:
    made = renewals.renewal_runway_advance(now=now)
    return f"{made} renewal task(s) created"
