"""Event ingest: validate a whole batch, then store it in one transaction with its rollups.

All or nothing: any invalid event fails the batch with an error per index and nothing is
stored. A repeated (tenant, idempotency_key) is a duplicate: not stored again, counted, and
not an error, so a client may retry a whole batch after a timeout or a 503.

Speed: one multi-row INSERT for the events, one for the users seen, one upsert for the daily
rollups and one UPDATE per tenant in the batch — no per-event ORM round trip.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, transaction

from core.sql import bulk_cursor, row_source
from tenants.models import Tenant

MAX_EVENTS = 1000
MAX_BODY_BYTES = 1_000_000
MAX_PROPERTY_DEPTH = 5
MAX_FUTURE = timedelta(minutes=5)
NAME_RE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
KNOWN_FIELDS = frozenset({"tenant", "name", "occurred_at", "user_id", "properties", "idempotency_key"})
# Events the CS team records about a tenant (a QA review of one of its calls): stored and rolled
# up like any other, but they are not the tenant's activity (last seen, data as of).
STAFF_EVENT_PREFIXES = ("qa.",)
# Numeric properties.score of these events feed signals through the rollups: NPS and CSAT the
# sentiment signal, a QA review of one of the tenant's interactions (qa/) the QA score.
SCORED_EVENTS = frozenset({"nps.submitted", "csat.submitted", "qa.reviewed"})


@dataclass(frozen=True)
class IngestError:
    index: int | None
    field: str
    message: str


class IngestRejected(Exception):
    """The batch is invalid; `errors` says where. `too_large` maps to 413 instead of 400."""

    def __init__(self, errors: list[IngestError], *, too_large: bool = False) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors
        self.too_large = too_large


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int


@dataclass
class _Row:
    tenant_id: int
    name: str
    occurred_at: datetime
    user_id: str
    properties: dict[str, Any]
    properties_json: str
    idempotency_key: str | None
    day: date = field(init=False)

    def __post_init__(self) -> None:
        self.day = self.occurred_at.astimezone(UTC).date()  # rollups are per UTC day


def _nested(properties: dict[str, Any]) -> bool:
    return any(isinstance(v, (dict, list)) for v in properties.values())


def _depth(value: Any, level: int = 1) -> int:
    if isinstance(value, dict):
        return max([level, *(_depth(v, level + 1) for v in value.values())])
    if isinstance(value, list):
        return max([level, *(_depth(v, level + 1) for v in value)])
    return level - 1


def _refuse_constant(name: str) -> None:
    # NaN and Infinity are not JSON (and PostgreSQL's jsonb refuses them).
    raise ValueError(f"{name} is not a JSON number")


def _storable(text: str) -> bool:
    """Text PostgreSQL can store: no NUL character, no lone UTF-16 surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unstorable_text(value: Any) -> bool:
    if isinstance(value, str):
        return not _storable(value)
    if isinstance(value, dict):
        return any(_unstorable_text(k) or _unstorable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable_text(v) for v in value)
    return False


def parse_body(body: bytes) -> list[Any]:
    """The `events` list of a request body, or IngestRejected naming what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise IngestRejected([IngestError(None, "body", f"The body is over {MAX_BODY_BYTES:,} bytes.")], too_large=True)
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise IngestRejected([IngestError(None, "body", "The body is nested too deeply.")]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise IngestRejected([IngestError(None, "body", f"The body is not valid JSON: {exc}.")]) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise IngestRejected([IngestError(None, "events", 'Send an object {"events": [...]}.')])
    events = payload["events"]
    if len(events) > MAX_EVENTS:
        raise IngestRejected(
            [IngestError(None, "events", f"{len(events)} events: at most {MAX_EVENTS} per batch.")],
            too_large=True,
        )
    if not events:
        raise IngestRejected([IngestError(None, "events", "The batch is empty.")])
    return events


def _parse_time(raw: Any, index: int, now: datetime, errors: list[IngestError]) -> datetime | None:
    if not isinstance(raw, str):
        errors.append(IngestError(index, "occurred_at", "Required: an ISO 8601 date-time string."))
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        errors.append(IngestError(index, "occurred_at", f"“{raw[:40]}” is not an ISO 8601 date-time."))
        return None
    if at.tzinfo is None:
        errors.append(IngestError(index, "occurred_at", "Needs a UTC offset, e.g. 2026-11-22T09:00:00Z."))
        return None
    try:
        at.astimezone(UTC)
    except OverflowError:
        errors.append(IngestError(index, "occurred_at", "Is out of range."))
        return None
    if at > now + MAX_FUTURE:
        errors.append(IngestError(index, "occurred_at", "Is more than 5 minutes in the future."))
        return None
    return at


SCORE_RANGES = {"nps.submitted": (0, 10), "csat.submitted": (1, 5), "qa.reviewed": (0, 100)}


def _score_error(name: Any, properties: dict[str, Any]) -> str | None:
    """NPS, CSAT and QA scores feed their signals: a number in the event's range, or absent."""
    if name not in SCORE_RANGES or "score" not in properties:
        return None
    low, high = SCORE_RANGES[name]
    score = properties["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not low <= score <= high:
        return f"A {name} score must be a number from {low} to {high}."
    return None


def validate_events(*, events: list[Any], bound_tenant: Tenant | None, now: datetime) -> list[_Row]:
    errors: list[IngestError] = []
    external_ids = {
        e["tenant"]
        for e in events
        if isinstance(e, dict) and isinstance(e.get("tenant"), str) and _storable(e["tenant"])
    }
    tenant_ids = dict(Tenant.objects.filter(external_id__in=external_ids).values_list("external_id", "id"))
    rows: list[_Row] = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            errors.append(IngestError(index, "event", "Each event must be a JSON object."))
            continue
        start = len(errors)
        for unknown in sorted(set(event) - KNOWN_FIELDS):
            errors.append(
                IngestError(index, unknown, f"Unknown field; known fields: {', '.join(sorted(KNOWN_FIELDS))}.")
            )
        external_id = event.get("tenant")
        tenant_id = None
        if bound_tenant is not None:
            if external_id not in (None, bound_tenant.external_id):
                errors.append(
                    IngestError(index, "tenant", f"This API key may only post events for {bound_tenant.external_id}.")
                )
            tenant_id = bound_tenant.id
        elif not isinstance(external_id, str) or not external_id or not _storable(external_id):
            errors.append(IngestError(index, "tenant", "Required: the tenant's external_id."))
        else:
            tenant_id = tenant_ids.get(external_id)
            if tenant_id is None:
                errors.append(IngestError(index, "tenant", f"Unknown tenant “{external_id[:64]}”."))
        name = event.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            errors.append(IngestError(index, "name", "Must match ^[a-z][a-z0-9_.]{0,63}$, e.g. “feature.used”."))
        occurred_at = _parse_time(event.get("occurred_at"), index, now, errors)
        user_id = event.get("user_id", "")
        if user_id is None:
            user_id = ""
        if (
            isinstance(user_id, bool)
            or not isinstance(user_id, (str, int))
            or len(str(user_id)) > 128
            or not _storable(str(user_id))
        ):
            errors.append(IngestError(index, "user_id", "Must be a string or integer of at most 128 characters."))
        properties = event.get("properties", {})
        if properties is None:
            properties = {}
        try:
            _check_properties(properties, name, index, errors)
        except RecursionError:
            errors.append(IngestError(index, "properties", f"Nested deeper than {MAX_PROPERTY_DEPTH} levels."))
        key = event.get("idempotency_key")
        if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 128 or not _storable(key)):
            errors.append(IngestError(index, "idempotency_key", "Must be a string of 1 to 128 characters."))
        if len(errors) == start:
            rows.append(_Row(tenant_id, name, occurred_at, str(user_id), properties, json.dumps(properties), key))
    if errors:
        raise IngestRejected(errors)
    return rows


def _check_properties(properties: Any, name: Any, index: int, errors: list[IngestError]) -> None:
    if not isinstance(properties, dict):
        errors.append(IngestError(index, "properties", "Must be a JSON object."))
    elif _nested(properties) and _depth(properties) > MAX_PROPERTY_DEPTH:
        errors.append(IngestError(index, "properties", f"Nested deeper than {MAX_PROPERTY_DEPTH} levels."))
    elif _unstorable_text(properties):
        message = "Contains a NUL character or a lone surrogate, which cannot be stored."
        errors.append(IngestError(index, "properties", message))
    elif (score_error := _score_error(name, properties)) is not None:
        errors.append(IngestError(index, "properties.score", score_error))
    elif (ticket_error := _ticket_error(name, properties)) is not None:
        errors.append(IngestError(index, *ticket_error))
    elif (feature_error := _feature_error(name, properties)) is not None:
        errors.append(IngestError(index, *feature_error))


TICKET_EVENTS = frozenset({"ticket.created", "ticket.first_response", "ticket.resolved"})
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")


def _ticket_error(name: Any, properties: dict[str, Any]) -> tuple[str, str] | None:
    """Support events (CONTRACTS.md): every one names its ticket; a new ticket's priority,
    tags and sentiment, when given, are of the documented kinds. (field, message) or None."""
    if name not in TICKET_EVENTS:
        return None
    ticket_id = properties.get("ticket_id")
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, (str, int)) or not str(ticket_id).strip():
        return "properties.ticket_id", f"A {name} event needs properties.ticket_id: the ticket's id in your help desk."
    if len(str(ticket_id)) > 100:
        return "properties.ticket_id", "A ticket id holds at most 100 characters."
    if name != "ticket.created":
        return None
    priority = properties.get("priority", "normal")
    if priority not in TICKET_PRIORITIES:
        return "properties.priority", f"Priority is one of {', '.join(TICKET_PRIORITIES)}."
    tags = properties.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 50 for t in tags):
        return "properties.tags", "Tags are a list of words (1 to 50 characters each)."
    sentiment = properties.get("sentiment")
    if sentiment is not None and (
        isinstance(sentiment, bool) or not isinstance(sentiment, (int, float)) or not -1 <= sentiment <= 1
    ):
        return "properties.sentiment", "Sentiment is a number from -1 (negative) to 1 (positive)."
    return None


def _feature_error(name: Any, properties: dict[str, Any]) -> tuple[str, str] | None:
    """`feature.requested` (the expansion pipeline's trigger) names the feature, and the plan
    that has it when given is one of the plans. (field, message) or None."""
    if name != "feature.requested":
        return None
    feature = properties.get("feature")
    if not isinstance(feature, str) or not feature.strip() or len(feature) > 200:
        return (
            "properties.feature",
            "A feature.requested event needs properties.feature: what was asked for (1 to 200 characters).",
        )
    plan = properties.get("plan")
    if plan is not None and plan not in Tenant.Plan.values:
        return (
            "properties.plan",
            f"The plan that has the feature is one of {', '.join(Tenant.Plan.values)}, or left out.",
        )
    return None


def _insert_events(rows: list[_Row], now: datetime) -> set[tuple[int, str]]:
    """Inserts the events; returns the (tenant_id, idempotency_key) pairs that were new."""
    source, params = row_source(
        [
            ("tenant_id", "bigint"),
            ("name", "text"),
            ("occurred_at", "timestamptz"),
            ("user_id", "text"),
            ("properties", "text"),
            ("idempotency_key", "text"),
        ],
        [(r.tenant_id, r.name, r.occurred_at, r.user_id, r.properties_json, r.idempotency_key) for r in rows],
    )
    properties = "src.properties::jsonb" if connection.vendor == "postgresql" else "src.properties"
    # "WHERE true": SQLite needs it to tell the ON CONFLICT clause from a join constraint.
    sql = (
        "INSERT INTO health_event (tenant_id, name, occurred_at, received_at, user_id, properties, idempotency_key) "
        f"SELECT src.tenant_id, src.name, src.occurred_at, %s, src.user_id, {properties}, src.idempotency_key "
        f"FROM {source} AS src WHERE true "
        "ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING "
        "RETURNING tenant_id, idempotency_key"
    )
    with bulk_cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), *params])
        return {(tenant_id, key) for tenant_id, key in cursor.fetchall() if key is not None}


def _insert_users(keys: list[tuple[int, date, str, str]]) -> dict[tuple[int, date, str], int]:
    """Records users seen per tenant × day × name; returns how many were new per key."""
    if not keys:
        return {}
    source, params = row_source([("tenant_id", "bigint"), ("day", "date"), ("name", "text"), ("user_id", "text")], keys)
    sql = (
        "INSERT INTO health_dailyeventuser (tenant_id, day, name, user_id) "
        f"SELECT src.tenant_id, src.day, src.name, src.user_id FROM {source} AS src WHERE true "
        "ON CONFLICT (tenant_id, day, name, user_id) DO NOTHING RETURNING tenant_id, day, name"
    )
    new_users: dict[tuple[int, date, str], int] = defaultdict(int)
    with bulk_cursor() as cursor:
        cursor.execute(sql, params)
        for tenant_id, day, name in cursor.fetchall():
            day = day if isinstance(day, date) else date.fromisoformat(day)
            new_users[(tenant_id, day, name)] += 1
    return new_users


def _upsert_rollups(totals: dict[tuple[int, date, str], list[float]], new_users: dict) -> None:
    # Sorted: concurrent batches lock rollup rows in one global order, so they cannot deadlock.
    rows = [
        (tenant_id, day, name, int(count), new_users.get((tenant_id, day, name), 0), value_sum, int(value_count))
        for (tenant_id, day, name), (count, value_sum, value_count) in sorted(totals.items())
    ]
    source, params = row_source(
        [
            ("tenant_id", "bigint"),
            ("day", "date"),
            ("name", "text"),
            ("count", "integer"),
            ("distinct_users", "integer"),
            ("value_sum", "double precision"),
            ("value_count", "integer"),
        ],
        rows,
    )
    sql = (
        "INSERT INTO health_dailyrollup (tenant_id, day, name, count, distinct_users, value_sum, value_count) "
        "SELECT src.tenant_id, src.day, src.name, src.count, src.distinct_users, src.value_sum, src.value_count "
        f"FROM {source} AS src WHERE true "
        "ON CONFLICT (tenant_id, day, name) DO UPDATE SET "
        "count = health_dailyrollup.count + excluded.count, "
        "distinct_users = health_dailyrollup.distinct_users + excluded.distinct_users, "
        "value_sum = health_dailyrollup.value_sum + excluded.value_sum, "
        "value_count = health_dailyrollup.value_count + excluded.value_count"
    )
    with bulk_cursor() as cursor:
        cursor.execute(sql, params)


def _update_freshness(last_seen: dict[int, datetime], now: datetime) -> None:
    """One UPDATE for every tenant in the batch: last_seen_at only moves forward (a late event
    does not pull it back), data_as_of is this batch. Rows are touched in id order."""
    if not last_seen:
        return  # only staff events (a QA review): nothing the tenant did
    source, params = row_source(
        [("id", "bigint"), ("seen", "timestamptz")], [(t, last_seen[t]) for t in sorted(last_seen)]
    )
    if connection.vendor == "postgresql":
        # UPDATE ... FROM locks rows in whatever order the plan visits them; lock them in id
        # order first, so two batches touching the same tenants cannot deadlock.
        with bulk_cursor() as cursor:
            cursor.execute(
                "SELECT id FROM tenants_tenant WHERE id = ANY(%b) ORDER BY id FOR NO KEY UPDATE", [sorted(last_seen)]
            )
    sql = (
        "UPDATE tenants_tenant SET data_as_of = %s, last_seen_at = CASE "
        "WHEN tenants_tenant.last_seen_at IS NULL OR tenants_tenant.last_seen_at < v.seen THEN v.seen "
        "ELSE tenants_tenant.last_seen_at END "
        f"FROM {source} AS v WHERE tenants_tenant.id = v.id"
    )
    with bulk_cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), *params])


def events_store(*, rows: list[_Row], now: datetime) -> IngestResult:
    """Stores validated rows with their rollups in one transaction. Idempotent per key."""
    # A key repeated inside the batch is a duplicate of its first occurrence.
    seen: set[tuple[int, str]] = set()
    unique_rows: list[_Row] = []
    for row in rows:
        if row.idempotency_key is not None:
            if (row.tenant_id, row.idempotency_key) in seen:
                continue
            seen.add((row.tenant_id, row.idempotency_key))
        unique_rows.append(row)
    # Sorted by (tenant, key): concurrent batches with overlapping keys wait on each other's
    # unique-index entries in the same order instead of deadlocking.
    unique_rows.sort(key=lambda r: (r.tenant_id, r.idempotency_key or ""))

    with transaction.atomic():
        inserted_keys = _insert_events(unique_rows, now)
        stored = [
            r for r in unique_rows if r.idempotency_key is None or (r.tenant_id, r.idempotency_key) in inserted_keys
        ]
        if stored:
            totals: dict[tuple[int, date, str], list[float]] = defaultdict(lambda: [0, 0.0, 0])
            users: set[tuple[int, date, str, str]] = set()
            last_seen: dict[int, datetime] = {}
            for r in stored:
                key = (r.tenant_id, r.day, r.name)
                total = totals[key]
                total[0] += 1
                score = r.properties.get("score") if r.name in SCORED_EVENTS else None
                if isinstance(score, (int, float)) and not isinstance(score, bool):  # validated: in range
                    total[1] += float(score)
                    total[2] += 1
                if r.user_id:
                    users.add((r.tenant_id, r.day, r.name, r.user_id))
                if r.name.startswith(STAFF_EVENT_PREFIXES):
                    continue  # our own record about the tenant: it does not make the tenant look active
                if r.occurred_at > last_seen.get(r.tenant_id, r.occurred_at - timedelta(seconds=1)):
                    last_seen[r.tenant_id] = r.occurred_at
            _upsert_rollups(totals, _insert_users(sorted(users)))
            _update_freshness(last_seen, now)
    return IngestResult(accepted=len(stored), duplicates=len(rows) - len(stored))


def events_ingest(*, events: list[Any], bound_tenant: Tenant | None, now: datetime) -> IngestResult:
    """Validates and stores one batch (already parsed). Raises IngestRejected, storing nothing."""
    rows = validate_events(events=events, bound_tenant=bound_tenant, now=now)
    return events_store(rows=rows, now=now)
