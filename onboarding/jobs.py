"""Periodic jobs of the onboarding app, run by the tick."""

from datetime import datetime

from core import ticks

from . import services


@ticks.register("onboarding.events", order=15)
def complete_milestones_from_events(now: datetime) -> str:
    return f"{services.milestones_complete_from_events(now=now)} milestone(s) completed by events"


@ticks.register("onboarding.stalled", order=16)
def flag_stalled_onboardings(now: datetime) -> str:
    return f"{services.onboardings_flag_stalled(now=now)} onboarding(s) newly stalled"
