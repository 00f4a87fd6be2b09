"""Writes of the health app: score recomputation and health-model versions."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Max, Q

from core.events import AuditAction, TimelineKind
from core.sql import bulk_cursor, row_source
from tenants.models import HealthBucket, Tenant, TimelineEntry
from tenants.services import audit_record, timeline_entry

from .components import SIGNALS
from .models import HealthModel
from .scoring import as_of_day, facts_for, is_warming_up, model_signals, score_tenant, tenure_days
from .seed_models import SEED_MODELS

STALE_AFTER = timedelta(hours=1)  # signals move with the clock (windows), not only with events
BATCH_SIZE = 1000


class NoPublishedModel(Exception):
    pass


@dataclass(frozen=True)
class RecomputeResult:
    scored: int
    bucket_changes: int


def published_model() -> HealthModel:
    model = HealthModel.objects.filter(status=HealthModel.Status.PUBLISHED).first()
    if model is None:
        raise NoPublishedModel("No health model is published; publish one in the cockpit or Django admin.")
    return model


def _due(now: datetime, model: HealthModel) -> Q:
    changed_data = Q(data_as_of__isnull=False) & (
        Q(health_data_as_of__isnull=True) | ~Q(health_data_as_of=F("data_as_of"))
    )
    # The warm-up just ended: judged at this tick, not up to an hour later.
    warmed_up = now - timedelta(days=model.warmup_days)
    warm_up_over = Q(health_bucket=HealthBucket.NEW) & (
        Q(imported_at__isnull=True, signed_up_at__lte=warmed_up) | Q(imported_at__lte=warmed_up)
    )
    return (
        Q(health_computed_at__isnull=True)
        | Q(health_computed_at__lt=now - STALE_AFTER)
        | warm_up_over
        | changed_data
        | ~Q(health_model_version=model.version)
        | Q(health_model_version__isnull=True)
    )


def _bucket_change_summary(old: str, new: str, score: float) -> str:
    return f"Health {HealthBucket(old).label} → {HealthBucket(new).label} (score {score:g})"


def _store_scores(rows: list[tuple[Any, ...]]) -> None:
    """Upserts the day's HealthScore rows in one statement (the day's latest score wins)."""
    if not rows:
        return
    source, params = row_source(
        [
            ("tenant_id", "bigint"),
            ("day", "date"),
            ("computed_at", "timestamptz"),
            ("score", "double precision"),
            ("bucket", "text"),
            ("model_id", "bigint"),
            ("components", "text"),
        ],
        rows,
    )
    components = "src.components::jsonb" if connection.vendor == "postgresql" else "src.components"
    sql = (
        "INSERT INTO health_healthscore (tenant_id, day, computed_at, score, bucket, model_id, components) "
        f"SELECT src.tenant_id, src.day, src.computed_at, src.score, src.bucket, src.model_id, {components} "
        f"FROM {source} AS src WHERE true "
        "ON CONFLICT (tenant_id, day) DO UPDATE SET computed_at = excluded.computed_at, score = excluded.score, "
        "bucket = excluded.bucket, model_id = excluded.model_id, components = excluded.components"
    )
    with bulk_cursor() as cursor:
        cursor.execute(sql, params)


def _store_on_tenants(rows: list[tuple[Any, ...]], *, now: datetime, model: HealthModel) -> None:
    """The latest score, denormalised onto the tenants, in one UPDATE."""
    source, params = row_source(
        [("id", "bigint"), ("score", "double precision"), ("bucket", "text"), ("data_as_of", "timestamptz")], rows
    )
    sql = (
        "UPDATE tenants_tenant SET health_score = v.score, health_bucket = v.bucket, health_computed_at = %s, "
        "health_data_as_of = v.data_as_of, health_model_version = %s "
        f"FROM {source} AS v WHERE tenants_tenant.id = v.id"
    )
    with bulk_cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), model.version, *params])


def _score_batch(*, tenants: list[dict[str, Any]], model: HealthModel, now: datetime) -> int:
    """Scores and stores one batch of (locked) tenants; returns how many changed bucket."""
    facts = facts_for(tenant_ids=[t["id"] for t in tenants], as_of=now, signals=model_signals(model))
    day = as_of_day(now)
    score_rows, tenant_rows, timeline = [], [], []
    for t in tenants:
        # An imported customer warms up from its import: the cockpit has none of its history.
        warming_up = is_warming_up(model=model, signed_up_at=t["imported_at"] or t["signed_up_at"], as_of=now)
        result = score_tenant(
            model=model,
            facts=facts.get(t["id"]),
            tenure_days=tenure_days(signed_up_at=t["signed_up_at"], as_of=now),
            warming_up=warming_up,
        )
        # A tenant in its warm-up is `new` even when no component has data yet.
        new_bucket = result.bucket if result else (HealthBucket.NEW if warming_up else "")
        tenant_rows.append((t["id"], result.score if result else None, new_bucket, t["data_as_of"]))
        if result is None:
            continue
        score_rows.append((t["id"], day, now, result.score, result.bucket, model.id, json.dumps(result.components)))
        if t["health_bucket"] and t["health_bucket"] != new_bucket:
            timeline.append(
                timeline_entry(
                    tenant_id=t["id"],
                    at=now,
                    kind=TimelineKind.HEALTH_BUCKET_CHANGED,
                    summary=_bucket_change_summary(t["health_bucket"], new_bucket, result.score),
                    data={
                        "from": t["health_bucket"],
                        "to": new_bucket,
                        "score": result.score,
                        "model": model.version,
                    },
                )
            )
    _store_scores(score_rows)
    _store_on_tenants(tenant_rows, now=now, model=model)
    TimelineEntry.all_tenants.bulk_create(timeline)
    return len(timeline)


TENANT_FIELDS = ("id", "signed_up_at", "imported_at", "health_bucket", "data_as_of")


def health_recompute_due(*, now: datetime, batch_size: int = BATCH_SIZE) -> RecomputeResult:
    """Scores every tenant that is due: new events since its score, a stale score, or a newly
    published model. Batches of tenants are claimed with SKIP LOCKED, so two ticks split the
    work instead of scoring (and timelining) the same tenant twice."""
    model = published_model()
    # The row locks also order us with ingest: a batch that commits events for a locked
    # tenant waits, then moves data_as_of past what we stored, so the tenant is due at the next
    # tick. NO KEY: event inserts only need a key-share lock on the tenant, so they are not
    # blocked. `last_id` moves forward: a tenant made due again by ingest during this tick
    # waits for the next one, so busy ingest cannot keep a tick going.
    return _score_in_batches(
        Tenant.objects.filter(_due(now, model)), {"skip_locked": True, "no_key": True}, model, now, batch_size
    )


def health_recompute_all(*, now: datetime, batch_size: int = BATCH_SIZE) -> RecomputeResult:
    """Scores every tenant that is not churned, due or not (manage.py recompute_health)."""
    return _score_in_batches(Tenant.objects.all(), {}, published_model(), now, batch_size)


def _score_in_batches(
    tenants_query: Any, lock: dict[str, bool], model: HealthModel, now: datetime, batch_size: int
) -> RecomputeResult:
    """Scores the tenants of `tenants_query` that are not churned, a locked batch at a time in
    id order."""
    scored = changes = last_id = 0
    while True:
        with transaction.atomic():
            tenants = list(
                tenants_query.filter(id__gt=last_id)
                .exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
                .select_for_update(**lock)
                .order_by("id")
                .values(*TENANT_FIELDS)[:batch_size]
            )
            if not tenants:
                return RecomputeResult(scored=scored, bucket_changes=changes)
            changes += _score_batch(tenants=tenants, model=model, now=now)
            scored += len(tenants)
            last_id = tenants[-1]["id"]


def health_backfill_history(*, now: datetime, days: int) -> int:
    """Scores every tenant as of the end of each of the last `days` days, from the rollups up
    to that day, filling the daily history (sparklines, week-over-week change). Existing rows
    for those days are replaced. Returns how many scores were written."""
    model = published_model()
    written = 0
    for days_ago in range(days, 0, -1):
        as_of = now - timedelta(days=days_ago)
        tenants = list(
            Tenant.objects.filter(signed_up_at__lte=as_of)
            .filter(Q(churned_at__isnull=True) | Q(churned_at__gt=as_of))
            .values_list("id", "signed_up_at", "imported_at")
        )
        facts = facts_for(tenant_ids=None, as_of=as_of, signals=model_signals(model))
        rows = []
        for tenant_id, signed_up_at, imported_at in tenants:
            result = score_tenant(
                model=model,
                facts=facts.get(tenant_id),
                tenure_days=tenure_days(signed_up_at=signed_up_at, as_of=as_of),
                warming_up=is_warming_up(model=model, signed_up_at=imported_at or signed_up_at, as_of=as_of),
            )
            if result is not None:
                rows.append(
                    (
                        tenant_id,
                        as_of_day(as_of),
                        as_of,
                        result.score,
                        result.bucket,
                        model.id,
                        json.dumps(result.components),
                    )
                )
        _store_scores(rows)
        written += len(rows)
    return written


# --- health models ---------------------------------------------------------------------------


def validate_components(components: Any) -> list[dict[str, Any]]:
    """Checks a components list; raises ValidationError naming the component and the fix."""
    if not isinstance(components, list) or not components:
        raise ValidationError({"components": ["A model needs at least one component."]})
    cleaned, seen = [], set()
    for index, component in enumerate(components):
        where = f"component {index + 1}"
        if not isinstance(component, dict):
            raise ValidationError({"components": [f"{where}: must be an object."]})
        key = component.get("key")
        if key not in SIGNALS:
            raise ValidationError({"components": [f"{where}: unknown signal “{key}”; known: {', '.join(SIGNALS)}."]})
        if key in seen:
            raise ValidationError({"components": [f"{where}: signal “{key}” appears twice."]})
        seen.add(key)
        weight = component.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise ValidationError({"components": [f"{key}: weight must be a whole number from 0 to 100."]})
        points = component.get("points")
        valid_points = (
            isinstance(points, list)
            and len(points) >= 2
            and all(
                isinstance(p, list)
                and len(p) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
                and 0 <= p[1] <= 100
                for p in points
            )
        )
        if not valid_points:
            raise ValidationError(
                {"components": [f"{key}: thresholds need at least two [signal value, score 0–100] points."]}
            )
        if len({p[0] for p in points}) != len(points):
            raise ValidationError({"components": [f"{key}: two thresholds have the same signal value."]})
        cleaned.append({"key": key, "weight": weight, "points": sorted([float(p[0]), float(p[1])] for p in points)})
    if sum(c["weight"] for c in cleaned) == 0:
        raise ValidationError({"components": ["At least one component needs a weight above 0."]})
    return cleaned


def health_model_create_draft(
    *,
    name: str,
    components: Any,
    healthy_min: int,
    at_risk_min: int,
    notes: str,
    actor: AbstractBaseUser | None,
    now: datetime,
    warmup_days: int = 14,
) -> HealthModel:
    if not name.strip():
        raise ValidationError({"name": ["Give the model a name."]})
    if not 0 < at_risk_min < healthy_min <= 100:
        raise ValidationError({"healthy_min": ["Buckets need 0 < at-risk minimum < healthy minimum ≤ 100."]})
    if not 0 <= warmup_days <= 90:
        raise ValidationError({"warmup_days": ["The warm-up is 0 to 90 days."]})
    cleaned = validate_components(components)
    with transaction.atomic():
        # Versions are numbered under a lock on the table's max: two drafts at once cannot
        # take the same number (and the unique constraint would refuse it if they did).
        next_version = (HealthModel.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0) + 1
        model = HealthModel.objects.create(
            version=next_version,
            name=name.strip(),
            components=cleaned,
            healthy_min=healthy_min,
            at_risk_min=at_risk_min,
            warmup_days=warmup_days,
            notes=notes.strip(),
            created_at=now,
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action=AuditAction.HEALTH_MODEL_CREATE,
            target=model,
            at=now,
            after={"version": model.version, "components": cleaned, "warmup_days": warmup_days},
        )
    return model


def health_model_publish(*, model: HealthModel, actor: AbstractBaseUser | None, now: datetime) -> HealthModel:
    """Publishes a draft; the previous model is retired. Every tenant is re-scored by the next
    tick (their stored model version no longer matches)."""
    if model.status != HealthModel.Status.DRAFT:
        raise ValidationError({"status": [f"v{model.version} is {model.status}; only a draft can be published."]})
    with transaction.atomic():
        previous = HealthModel.objects.select_for_update().filter(status=HealthModel.Status.PUBLISHED).first()
        if previous is not None:
            previous.status = HealthModel.Status.RETIRED
            previous.save(update_fields=["status"])
        model.status, model.published_at, model.published_by = HealthModel.Status.PUBLISHED, now, actor
        model.save(update_fields=["status", "published_at", "published_by"])
        audit_record(
            actor=actor,
            action=AuditAction.HEALTH_MODEL_PUBLISH,
            target=model,
            at=now,
            before={"published": previous.version if previous else None},
            after={"published": model.version},
        )
    return model


def health_models_from_seeds(*, actor: AbstractBaseUser | None, now: datetime) -> list[HealthModel]:
    """Drafts seed 004's and seed 001's models (health/seed_models.py), each unless a version
    of that name exists already; returns the new drafts."""
    existing = set(HealthModel.objects.filter(name__in=[m.name for m in SEED_MODELS]).values_list("name", flat=True))
    return [
        health_model_create_draft(
            name=seed.name,
            components=seed.components,
            healthy_min=80,
            at_risk_min=60,
            notes=seed.notes,
            actor=actor,
            now=now,
        )
        for seed in SEED_MODELS
        if seed.name not in existing
    ]
