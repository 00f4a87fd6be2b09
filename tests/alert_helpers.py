"""Shared by the alert tests: a moment to work at, events through the real ingest, and the
alerts of a tenant × rule read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.models import Alert
from alerts.services import rules_evaluate
from health.ingest import events_ingest
from health.models import HealthScore
from health.services import published_model
from onboarding.services import onboarding_start
from tenants.models import Tenant

from .factories import TenantFactory

# Wednesday 18 Nov 2026, 15:00 UTC.
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)


def tenant_at(external_id: str = "acme", *, signed_up_at: datetime, onboarding: bool = True, **extra: Any) -> Tenant:
    extra.setdefault("name", f"{external_id.title()} Inc")
    tenant = TenantFactory(external_id=external_id, signed_up_at=signed_up_at, **extra)
    if onboarding:
        onboarding_start(tenant=tenant)
    return tenant


def ingest(
    tenant: Tenant, name: str, at: datetime, *, count: int = 1, now: datetime | None = None, **props: Any
) -> None:
    events = [
        {
            "tenant": tenant.external_id,
            "name": name,
            "occurred_at": (at + timedelta(seconds=i)).isoformat(),
            "properties": props,
        }
        for i in range(count)
    ]
    result = events_ingest(events=events, bound_tenant=None, now=now or at + timedelta(seconds=count))
    assert result.accepted == count


def evaluate(at: datetime) -> None:
    """The rules, then the playbook reconcile's step that starts what an open alert triggers —
    as the tick runs them (alerts at order 30, playbook runs at 40)."""
    from playbooks.scheduling import ReconcileResult, alert_runs_start

    rules_evaluate(now=at)
    alert_runs_start(now=at, result=ReconcileResult())


def alerts_of(tenant: Tenant, rule: str) -> list[Alert]:
    return list(Alert.objects.for_tenant(tenant).filter(rule__slug=rule).order_by("id"))


def active_of(tenant: Tenant, rule: str) -> list[Alert]:
    return [a for a in alerts_of(tenant, rule) if a.status != Alert.Status.RESOLVED]


def score_on(tenant: Tenant, day: Any, score: float) -> None:
    """A stored daily score, as health's recompute leaves it (the model decides the bucket)."""
    model = published_model()
    HealthScore.all_tenants.update_or_create(
        tenant=tenant,
        day=day,
        defaults={
            "computed_at": datetime.combine(day, datetime.min.time(), tzinfo=UTC),
            "score": score,
            "bucket": model.bucket_for(score),
            "model": model,
            "components": [],
        },
    )


def set_current_score(tenant: Tenant, score: float, at: datetime) -> None:
    """The tenant's current score, as health writes it on the tenant row (and on the day's row)."""
    bucket = published_model().bucket_for(score)
    Tenant.objects.filter(id=tenant.id).update(health_score=score, health_bucket=bucket, health_computed_at=at)
    score_on(tenant, at.date(), score)
