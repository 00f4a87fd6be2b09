"""Structured conditions over the fact vocabulary — parsed and compared, never eval'd.

A condition is a dict `{"fact", "op", "value"}` (plus `"event"` and `"days"` for
`event_count`). Files may write the short form, which parses to the same dict:

    usage_level == high
    health_score < 60
    plan in [starter, professional]
    event_count(call.handled, 7) >= 1
    has_phone == true

A list of conditions holds when every one holds. A condition on an unknown fact (see
facts.UNKNOWN_WHY) is neither true nor false: `evaluate` answers None with the reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .facts import FACTS, MAX_EVENT_DAYS, EventWindow, TenantFacts, unknown_reason

OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")
EVENT_NAME_RE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_SHORT_RE = re.compile(
    r"^\s*(?P<fact>[a-z_0-9]+)(?:\(\s*(?P<event>[^,\s)]+)\s*,\s*(?P<days>\d+)\s*\))?\s*"
    r"(?P<op>==|!=|<=|>=|<|>|not\s+in|in)\s*(?P<value>.+?)\s*$"
)


class ConditionError(ValueError):
    """A condition that cannot be used; the message names the problem and the fix."""


def _scalar(raw: Any, kind: str, fact: str) -> Any:
    if kind == "number":
        if isinstance(raw, bool):
            raise ConditionError(f"{fact} is a number; “{raw}” is not.")
        try:
            number = float(raw) if not isinstance(raw, int) else raw
        except (TypeError, ValueError, OverflowError):
            raise ConditionError(f"{fact} is a number; “{raw}” is not.") from None
        if not math.isfinite(number) or abs(number) > 1e12:
            raise ConditionError(f"{fact} is compared with an ordinary number, not “{raw}”.")
        return number
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() in {"true", "yes"}:
            return True
        if str(raw).strip().lower() in {"false", "no"}:
            return False
        raise ConditionError(f"{fact} is true or false; “{raw}” is neither.")
    return str(raw).strip().strip("\"'")


def _parse_short(text: str) -> dict[str, Any]:
    match = _SHORT_RE.match(text)
    if not match:
        raise ConditionError(
            f"“{text}” is not a condition: write FACT OPERATOR VALUE, e.g. “usage_level == high” or "
            "“event_count(call.handled, 7) >= 1”."
        )
    value: Any = match["value"]
    op = " ".join(match["op"].split())
    if op in {"in", "not in"}:
        if not (value.startswith("[") and value.endswith("]")):
            raise ConditionError(f"“{text}”: after “{op}” comes a list, e.g. [starter, professional].")
        value = [item.strip() for item in value[1:-1].split(",") if item.strip()]
    condition: dict[str, Any] = {"fact": match["fact"], "op": op, "value": value}
    if match["event"]:
        condition.update(event=match["event"], days=int(match["days"]))
    return condition


def normalise(raw: Any) -> dict[str, Any]:
    """Validates one condition (dict or short form) and returns its canonical dict."""
    condition = _parse_short(raw) if isinstance(raw, str) else raw
    if not isinstance(condition, dict):
        raise ConditionError(f"A condition is a text like “health_score < 60” or a mapping, not {raw!r}.")
    unknown_keys = set(condition) - {"fact", "op", "value", "event", "days"}
    if unknown_keys:
        raise ConditionError(f"Unknown condition key(s): {', '.join(sorted(unknown_keys))}.")
    fact, op = condition.get("fact"), condition.get("op")
    spec = FACTS.get(fact) if isinstance(fact, str) else None
    if spec is None:
        raise ConditionError(f"Unknown fact “{fact}”; known facts: {', '.join(FACTS)}.")
    if not isinstance(op, str) or op not in OPERATORS:
        raise ConditionError(f"Unknown operator “{op}” for {fact}; use one of {', '.join(OPERATORS)}.")
    if spec.kind != "number" and op in {"<", "<=", ">", ">="}:
        raise ConditionError(f"{fact} is not a number: compare it with ==, !=, in or not in.")
    result: dict[str, Any] = {"fact": fact, "op": op}
    if fact == "event_count":
        event, days = condition.get("event"), condition.get("days")
        if not isinstance(event, str) or not EVENT_NAME_RE.match(event):
            raise ConditionError(f"event_count needs an event name like call.handled, not {event!r}.")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_EVENT_DAYS:
            raise ConditionError(f"event_count days must be a whole number from 1 to {MAX_EVENT_DAYS}, not {days!r}.")
        result.update(event=event, days=days)
    value = condition.get("value")
    if op in {"in", "not in"}:
        if not isinstance(value, list) or not value:
            raise ConditionError(f"{fact} {op} needs a non-empty list of values.")
        result["value"] = [_scalar(v, spec.kind, fact) for v in value]
    else:
        result["value"] = _scalar(value, spec.kind, fact)
    values = result["value"] if isinstance(result["value"], list) else [result["value"]]
    if spec.choices and any(v not in spec.choices for v in values):
        bad = next(v for v in values if v not in spec.choices)
        raise ConditionError(f"{fact} is never “{bad}”; it is one of {', '.join(spec.choices)}.")
    return result


def normalise_all(raw: Any, *, where: str) -> list[dict[str, Any]]:
    if raw in (None, ""):
        return []
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        try:
            out.append(normalise(item))
        except ConditionError as exc:
            raise ConditionError(f"{where}: {exc}") from None
    return out


def describe(condition: dict[str, Any]) -> str:
    fact = condition["fact"]
    if fact == "event_count":
        fact = f"event_count({condition['event']}, {condition['days']})"
    value = condition["value"]
    shown = "[" + ", ".join(str(v) for v in value) + "]" if isinstance(value, list) else str(value).lower()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        shown = f"{value:g}"
    return f"{fact} {condition['op']} {shown}"


def windows_of(conditions: list[dict[str, Any]]) -> set[EventWindow]:
    return {EventWindow(c["event"], c["days"]) for c in conditions if c["fact"] == "event_count"}


@dataclass(frozen=True)
class Outcome:
    holds: bool | None  # None: unknown
    checks: list[dict[str, Any]]  # one per condition: text, actual value, result

    @property
    def explanation(self) -> str:
        failing = [c for c in self.checks if c["result"] is not True]
        if not failing:
            return "all conditions hold" if self.checks else "no conditions"
        first = failing[0]
        if first["result"] is None:
            return f"condition unknown: {first['condition']} ({first['why']})"
        return f"condition false: {first['condition']} (it is {first['actual']})"


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "==":
        return actual == expected
    if op == "!=":
        return actual != expected
    if op == "in":
        return actual in expected
    if op == "not in":
        return actual not in expected
    return {"<": actual < expected, "<=": actual <= expected, ">": actual > expected, ">=": actual >= expected}[op]


def holds_for_value(condition: dict[str, Any], actual: Any) -> bool:
    """Whether one condition holds for a given value of its fact (coverage checks)."""
    return _compare(actual, condition["op"], condition["value"])


def evaluate(conditions: list[dict[str, Any]], facts: TenantFacts) -> Outcome:
    """All must hold. False beats unknown: a step is skipped as false when any check fails."""
    checks = []
    for condition in conditions:
        actual = facts.get(condition["fact"], event=condition.get("event", ""), days=condition.get("days", 0))
        if actual is None:
            result, why = None, unknown_reason(condition["fact"])
        else:
            result, why = _compare(actual, condition["op"], condition["value"]), ""
        shown = actual if not isinstance(actual, bool) else str(actual).lower()
        checks.append({"condition": describe(condition), "actual": shown, "result": result, "why": why})
    results = [c["result"] for c in checks]
    holds: bool | None = False if False in results else (None if None in results else True)
    checks.sort(key=lambda c: {False: 0, None: 1, True: 2}[c["result"]])
    return Outcome(holds, checks)
