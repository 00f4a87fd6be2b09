"""The health model's components (its signals): what each one measures, read from one row
of aggregated facts.

Each signal turns a tenant's facts into a value (or None: no data, and the component is left
out of the weighting) and explains it in one line. Thresholds and weights are not here: they
belong to the versioned HealthModel, so a CS lead can change them without a deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

Facts = dict[str, Any]

# Events that are not product usage: they feed their own signals, not activity or breadth.
NON_USAGE_PREFIXES = ("error.", "ticket.", "nps.", "csat.", "billing.", "invoice.", "qa.")


@dataclass(frozen=True)
class Signal:
    key: str
    label: str
    higher_is_better: bool
    value: Callable[[Facts], float | None]
    describe: Callable[[float, Facts, float], str]  # (value, facts, target) -> rationale
    no_data: str | Callable[[Facts], str]  # why there is no value, when value() is None
    # signal → score pairs the editor offers when a model gives the signal its first weight
    suggested_points: tuple[tuple[float, float], ...] = ()

    def explain_no_data(self, facts: Facts) -> str:
        return self.no_data(facts) if callable(self.no_data) else self.no_data


def _plural(n: float, word: str) -> str:
    return f"{n:g} {word}{'' if n == 1 else 's'}"


def _active_days(f: Facts) -> float:
    # A tenant younger than a week is judged on the days it has had, scaled to seven.
    window = max(1, min(7, f["tenure_days"] + 1))
    return min(7.0, round(min(f["active_days_7"], window) * 7 / window, 1))


def _describe_active_days(v: float, f: Facts, target: float) -> str:
    window = max(1, min(7, f["tenure_days"] + 1))
    days = _plural(min(f["active_days_7"], window), "active day")
    if window < 7:
        return f"{days} in the {_plural(window, 'day')} since signup (target {target:g} of 7)"
    return f"{days} in the last 7 (target {target:g})"


def _usage_trend(f: Facts) -> float | None:
    this_week, last_week = f["trend_this_week"], f["trend_last_week"]
    if f["tenure_days"] < 14 or (this_week == 0 and last_week == 0):
        return None
    if last_week == 0:
        return 100.0
    return round((this_week - last_week) * 100 / last_week, 1)


def _describe_trend(v: float, f: Facts, target: float) -> str:
    counts = f"({f['trend_last_week']:g} → {f['trend_this_week']:g} events)"
    if f["trend_last_week"] == 0:
        return f"Usage resumed this week after a week without any {counts}"
    return f"Usage {'up' if v >= 0 else 'down'} {abs(v):g} % week over week {counts}"


def _no_trend(f: Facts) -> str:
    if f["tenure_days"] < 14:
        return f"Not enough history yet: {_plural(f['tenure_days'], 'day')} since signup, a trend needs 14"
    return "No usage in either of the last two weeks"


def _support_load(f: Facts) -> float | None:
    if not f["ticket_days_90"]:
        return None
    return max(0, f["tickets_created_30"] - f["tickets_resolved_30"])


def _sentiment(f: Facts) -> float | None:
    if f["nps_n"]:
        return round(f["nps_sum"] / f["nps_n"], 1)
    if f["csat_n"]:
        return round(f["csat_sum"] / f["csat_n"] * 2, 1)  # CSAT 1-5 onto the NPS 0-10 scale
    return None


def _describe_sentiment(v: float, f: Facts, target: float) -> str:
    if f["nps_n"]:
        responses = _plural(f["nps_n"], "response")
        return f"Average NPS {v:g} from {responses} in the last 90 days (target {target:g})"
    return f"Average CSAT {v / 2:g}/5 from {_plural(f['csat_n'], 'response')} in the last 90 days"


def _qa_score(f: Facts) -> float | None:
    if not f["qa_n"]:
        return None
    return round(f["qa_sum"] / f["qa_n"], 1)


def _error_rate(f: Facts) -> float | None:
    if not f["usage_7"]:
        return None
    return round(f["errors_7"] * 100 / f["usage_7"], 2)


TEAM_DAYS = 30  # team growth compares the distinct users of the last 30 days with the 30 before
KEY_EVENT_DAYS = 28  # key-event consistency: days of the last four weeks with the key event


def _onboarding_completion(f: Facts) -> float | None:
    required = f.get("onboarding_required")
    if not required:
        return None
    return round(f.get("onboarding_done", 0) * 100 / required, 1)


def _team_growth(f: Facts) -> float | None:
    recent, before = f.get("users_recent", 0), f.get("users_before", 0)
    if not recent and not before:
        return None
    if not before:
        # Everyone is new: growth from nobody is onboarding, not a trend — unless the tenant is
        # two windows old and had nobody in the first.
        return 100.0 if f["tenure_days"] >= 2 * TEAM_DAYS else None
    return round((recent - before) * 100 / before, 1)


def _describe_team(v: float, f: Facts, target: float) -> str:
    recent, before = f.get("users_recent", 0), f.get("users_before", 0)
    return (
        f"{_plural(recent, 'person')} used it in the last {TEAM_DAYS} days, {before:g} in the {TEAM_DAYS} before "
        f"({'+' if v >= 0 else ''}{v:g} %; target {'+' if target >= 0 else ''}{target:g} %)"
    ).replace("persons", "people")


def _no_team(f: Facts) -> str:
    if f.get("users_recent"):
        return f"Not enough history yet: everyone seen is new, and a trend needs {2 * TEAM_DAYS} days"
    return f"No user seen in the last {2 * TEAM_DAYS} days (events without a user id do not count)"


def _key_event_window(f: Facts) -> int:
    return max(1, min(KEY_EVENT_DAYS, f["tenure_days"] + 1))


def _key_event_consistency(f: Facts) -> float:
    window = _key_event_window(f)
    return round(min(f.get("key_event_days_28", 0), window) * 100 / window, 1)


def _describe_key_event(v: float, f: Facts, target: float) -> str:
    name = f.get("key_event") or settings.HEALTH_KEY_EVENT
    window = _key_event_window(f)
    days = min(f.get("key_event_days_28", 0), window)
    return f"{name} on {days:g} of the last {_plural(window, 'day')} ({v:g} %; target {target:g} %)"


SIGNALS: dict[str, Signal] = {
    s.key: s
    for s in [
        Signal(
            key="active_days",
            label="Active days (stickiness)",
            higher_is_better=True,
            value=_active_days,
            describe=_describe_active_days,
            no_data="",
            suggested_points=((0, 0), (1, 30), (3, 60), (5, 100)),
        ),
        Signal(
            key="feature_breadth",
            label="Feature breadth",
            higher_is_better=True,
            value=lambda f: float(f["breadth_14"]),
            describe=lambda v, f, t: f"{_plural(v, 'distinct feature')} used in the last 14 days (target {t:g})",
            no_data="",
            suggested_points=((0, 0), (1, 25), (3, 70), (5, 100)),
        ),
        Signal(
            key="usage_trend",
            label="Usage trend (week over week)",
            higher_is_better=True,
            value=_usage_trend,
            describe=_describe_trend,
            no_data=_no_trend,
            suggested_points=((-50, 0), (-20, 50), (0, 85), (10, 100)),
        ),
        Signal(
            key="support_load",
            label="Support load",
            higher_is_better=False,
            value=_support_load,
            describe=lambda v, f, t: (
                f"{_plural(v, 'open ticket')} (created minus resolved, last 30 days; target {t:g})"
            ),
            no_data="No support tickets on record in the last 90 days",
            suggested_points=((0, 100), (1, 80), (3, 50), (5, 20), (8, 0)),
        ),
        Signal(
            key="sentiment",
            label="Sentiment (NPS / CSAT)",
            higher_is_better=True,
            value=_sentiment,
            describe=_describe_sentiment,
            no_data="No NPS or CSAT response in the last 90 days",
            suggested_points=((0, 0), (6, 40), (7, 70), (9, 100)),
        ),
        Signal(
            key="qa_score",
            label="QA score (reviewed interactions)",
            higher_is_better=True,
            value=_qa_score,
            describe=lambda v, f, t: (
                f"{v:g}/100 on average over {_plural(f['qa_n'], 'QA review')} in the last 90 days (target {t:g})"
            ),
            no_data="No QA review of its interactions in the last 90 days",
            suggested_points=((0, 0), (60, 40), (80, 80), (90, 100)),
        ),
        Signal(
            key="onboarding_completion",
            label="Onboarding completion",
            higher_is_better=True,
            value=_onboarding_completion,
            describe=lambda v, f, t: (
                f"{f['onboarding_done']:g} of {f['onboarding_required']:g} required onboarding milestones done "
                f"({v:g} %; target {t:g} %)"
            ),
            no_data="No onboarding checklist",
            suggested_points=((0, 0), (50, 50), (100, 100)),
        ),
        Signal(
            key="payment_health",
            label="Payment health",
            higher_is_better=True,
            value=lambda f: f.get("payment_score"),
            describe=lambda v, f, t: f"{f['payment_note']} ({v:g}/100)",
            no_data="No live Stripe subscription (or a score of the past: the mirror knows only now)",
            suggested_points=((0, 0), (30, 30), (70, 70), (100, 100)),
        ),
        Signal(
            key="team_growth",
            label="Team growth (distinct users)",
            higher_is_better=True,
            value=_team_growth,
            describe=_describe_team,
            no_data=_no_team,
            suggested_points=((-50, 0), (-20, 50), (0, 80), (20, 100)),
        ),
        Signal(
            key="key_event_consistency",
            label="Key-event consistency",
            higher_is_better=True,
            value=_key_event_consistency,
            describe=_describe_key_event,
            no_data="",
            suggested_points=((0, 0), (25, 40), (50, 75), (75, 100)),
        ),
        Signal(
            key="feature_requests",
            label="Feature requests (engagement)",
            higher_is_better=True,
            value=lambda f: float(f.get("feature_requests_90", 0)),
            describe=lambda v, f, t: f"{_plural(v, 'feature request')} in the last 90 days (target {t:g})",
            no_data="",
            suggested_points=((0, 50), (1, 80), (3, 100)),
        ),
        Signal(
            key="error_rate",
            label="Error rate",
            higher_is_better=False,
            value=_error_rate,
            describe=lambda v, f, t: f"{v:g} % of events were errors in the last 7 days (target ≤ {t:g} %)",
            no_data="No usage in the last 7 days to measure errors against",
            suggested_points=((0, 100), (2, 80), (5, 40), (10, 0)),
        ),
    ]
}
