from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.scoping import TenantOwnedModel
from tenants.models import HealthBucket, Tenant


class Event(TenantOwnedModel):
    """One product-usage event as the SaaS backend posted it. Written in bulk by
    health.ingest, never one ORM save at a time."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    user_id = models.CharField(max_length=128, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    # NULL, not "": events without a key must not collide in the unique constraint.
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001

    class Meta(TenantOwnedModel.Meta):
        indexes = [models.Index(fields=["tenant", "occurred_at"], name="event_tenant_occurred")]
        constraints = [
            # The idempotency guard: a retried batch inserts nothing twice (ON CONFLICT DO NOTHING).
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="event_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class DailyRollup(TenantOwnedModel):
    """Events per tenant × UTC day × event name, kept in the same transaction as the events.
    Health signals aggregate these, never the raw events."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    name = models.CharField(max_length=64)
    count = models.PositiveIntegerField(default=0)
    distinct_users = models.PositiveIntegerField(default=0)
    # Sum and count of numeric `properties.score` (NPS, CSAT), for sentiment signals.
    value_sum = models.FloatField(default=0)
    value_count = models.PositiveIntegerField(default=0)

    class Meta(TenantOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "day", "name"], name="rollup_tenant_day_name")]
        # Escalation rules ask about one event name across all tenants (outreach.sent,
        # error.raised, nps.submitted): this answers from the index, not the whole table.
        indexes = [models.Index(fields=["name", "tenant", "day"], name="rollup_name_tenant_day")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day} {self.name}: {self.count}"


class DailyEventUser(TenantOwnedModel):
    """Which users were seen per tenant × day × event name: makes `distinct_users` exact under
    concurrent batches (a user is counted when this row is first inserted)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    name = models.CharField(max_length=64)
    user_id = models.CharField(max_length=128)

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day", "name", "user_id"], name="event_user_tenant_day_name")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day} {self.name} {self.user_id}"


class HealthModel(models.Model):
    """A versioned health model: which signals count, their thresholds and weights, and the
    bucket boundaries. Exactly one version is published at a time; edits make a new draft."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    version = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    healthy_min = models.PositiveSmallIntegerField(default=80)
    at_risk_min = models.PositiveSmallIntegerField(default=60)
    # A tenant younger than this is bucketed `new`: scored for information, never acted on
    # (too little data: missing activity is not yet a signal).
    warmup_days = models.PositiveSmallIntegerField(default=14)
    # [{"key": signal key, "weight": int, "points": [[signal value, sub-score], ...]}, ...]
    components = models.JSONField()
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-version"]
        constraints = [
            # Two publishes racing cannot leave two published models.
            models.UniqueConstraint(fields=["status"], condition=Q(status="published"), name="one_published_model")
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.name} ({self.status})"

    def bucket_for(self, score: float, *, warming_up: bool = False) -> str:
        if warming_up:
            return HealthBucket.NEW
        if score >= self.healthy_min:
            return HealthBucket.HEALTHY
        if score >= self.at_risk_min:
            return HealthBucket.AT_RISK
        return HealthBucket.CRITICAL


class HealthScore(TenantOwnedModel):
    """A tenant's score for one UTC day (the latest computation that day wins): the daily
    history, and with it every component's signal, sub-score, weight, contribution and why."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    computed_at = models.DateTimeField()
    score = models.FloatField()
    bucket = models.CharField(max_length=10, choices=HealthBucket.choices)
    model = models.ForeignKey(HealthModel, on_delete=models.PROTECT, related_name="+")
    # [{key, label, signal, score, weight, contribution, rationale}], no-data components included
    components = models.JSONField()

    class Meta(TenantOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="health_score_tenant_day")]
        indexes = [
            models.Index(fields=["tenant", "-day"], name="health_score_tenant_day_desc"),
            # The health_drop rule reads every tenant's score of one day (a week ago).
            models.Index(fields=["day"], name="health_score_day"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day}: {self.score:.0f} {self.bucket}"
