"""Periodic jobs of the tenants app, run by the tick."""

from datetime import datetime

from core import ticks

from . import services


@ticks.register("tenants.lifecycle", order=10)
def close_onboarding_windows(now: datetime) -> str:
    moved = services.tenants_close_onboarding_windows(now=now)
    return f"{moved} tenant(s) moved from onboarding to adoption"
