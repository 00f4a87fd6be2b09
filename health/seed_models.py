"""Two health models written from the seeds, offered as drafts to back-test against the
published one and publish if they predict churn better (issue 16):

- seed 004's "Customer health": usage 60 % (daily active rate 25, feature adoption depth 20,
  usage consistency 15 — the key event's days), engagement 30 % (support sentiment 15,
  feature requests 10; community participation 5 has no data here and is left out) and
  business 10 % (payment health 5, usage trend 3; contract utilisation 2 is left out).
- seed 001's "Onboarding health": onboarding completed 30, campaigns created 20 (the key
  event), reports generated and features used 35 (feature breadth), support tickets −15
  (support load, fewer is better).

Both keep the default buckets (healthy ≥ 80, at risk ≥ 60). Weights renormalise over the
signals with data, so the parts left out do not count as zero."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .components import SIGNALS


def _points(key: str) -> list[list[float]]:
    return [list(pair) for pair in SIGNALS[key].suggested_points]


@dataclass(frozen=True)
class SeedModel:
    name: str
    weights: dict[str, int]
    notes: str

    @property
    def components(self) -> list[dict[str, Any]]:
        return [{"key": key, "weight": weight, "points": _points(key)} for key, weight in self.weights.items()]


SEED_MODELS = [
    SeedModel(
        "Seed 004: customer health",
        {
            "active_days": 25,
            "feature_breadth": 20,
            "key_event_consistency": 15,
            "sentiment": 15,
            "feature_requests": 10,
            "payment_health": 5,
            "usage_trend": 3,
        },
        "Seed 004's health score algorithm: usage 60 %, engagement 30 %, business 10 %. Community "
        "participation and contract utilisation have no data here and are left out.",
    ),
    SeedModel(
        "Seed 001: onboarding health",
        {"onboarding_completion": 30, "key_event_consistency": 20, "feature_breadth": 35, "support_load": 15},
        "Seed 001's onboarding health score: onboarding 30, campaigns (the key event) 20, reports and "
        "features 35, support tickets 15 (fewer is better).",
    ),
]
