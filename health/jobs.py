"""Periodic jobs of the health app, run by the tick."""

from datetime import datetime

from core import ticks

from . import services


@ticks.register("health.recompute", order=20)
def recompute_due_scores(now: datetime) -> str:
    result = services.health_recompute_due(now=now)
    return f"{result.scored} tenant(s) scored, {result.bucket_changes} bucket change(s)"
