"""Back-test: would a model have told churners from stayers?

Score every tenant as of a past moment (`now - horizon`) from the rollups up to then — the
model sees nothing after it — and compare with what happened next: did the tenant churn
before `now`? AUC is the chance that a tenant who churned scored below one who stayed
(0.5 is a coin toss, 1.0 a perfect warning); the bucket table shows churn rate per bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q

from tenants.models import HealthBucket, Tenant

from .models import HealthModel
from .scoring import facts_for, is_warming_up, model_signals, score_tenant, tenure_days

MIN_HISTORY = timedelta(days=7)  # a tenant needs a week of life at the cut-off to be judged


@dataclass(frozen=True)
class BucketOutcome:
    bucket: str
    label: str
    tenants: int
    churned: int

    @property
    def churn_rate(self) -> float | None:
        return round(self.churned * 100 / self.tenants, 1) if self.tenants else None


@dataclass(frozen=True)
class BacktestReport:
    model: HealthModel
    as_of: datetime
    horizon_days: int
    tenants: int
    churned: int
    auc: float | None
    buckets: list[BucketOutcome]

    def summary(self) -> str:
        auc = f"AUC {self.auc:.3f}" if self.auc is not None else "AUC n/a (needs churned and retained tenants)"
        return (
            f"model v{self.model.version} {self.model.name}: {auc} over {self.tenants} tenants "
            f"({self.churned} churned within {self.horizon_days} days of {self.as_of:%Y-%m-%d})"
        )


def auc(churner_scores: list[float], stayer_scores: list[float]) -> float | None:
    """P(a churner scored lower than a stayer), ties counting half (Mann-Whitney U / n1·n2)."""
    if not churner_scores or not stayer_scores:
        return None
    ranked = sorted([(s, 1) for s in churner_scores] + [(s, 0) for s in stayer_scores], key=lambda p: -p[0])
    # Walk from the highest score down: each churner "wins" against every stayer above it,
    # and half against stayers tied with it. O(n log n).
    wins, stayers_above, index = 0.0, 0, 0
    while index < len(ranked):
        end = index
        while end < len(ranked) and ranked[end][0] == ranked[index][0]:
            end += 1
        churners_in_tie = sum(flag for _, flag in ranked[index:end])
        stayers_in_tie = (end - index) - churners_in_tie
        wins += churners_in_tie * (stayers_above + stayers_in_tie / 2)
        stayers_above += stayers_in_tie
        index = end
    return round(wins / (len(churner_scores) * len(stayer_scores)), 4)


def backtest(*, model: HealthModel, now: datetime, horizon_days: int = 21) -> BacktestReport:
    as_of = now - timedelta(days=horizon_days)
    cohort = list(
        Tenant.objects.filter(signed_up_at__lte=as_of - MIN_HISTORY)
        .filter(Q(churned_at__isnull=True) | Q(churned_at__gt=as_of))
        .values_list("id", "signed_up_at", "imported_at", "churned_at")
    )
    facts = facts_for(tenant_ids=None, as_of=as_of, signals=model_signals(model))
    churner_scores, stayer_scores = [], []
    # `new` tenants are never acted on, so they are not part of what the model predicts.
    counts = {bucket: [0, 0] for bucket in HealthBucket.values if bucket != HealthBucket.NEW}
    for tenant_id, signed_up_at, imported_at, churned_at in cohort:
        if is_warming_up(model=model, signed_up_at=imported_at or signed_up_at, as_of=as_of):
            continue
        result = score_tenant(
            model=model, facts=facts.get(tenant_id), tenure_days=tenure_days(signed_up_at=signed_up_at, as_of=as_of)
        )
        if result is None:
            continue
        churned = churned_at is not None and churned_at <= now
        (churner_scores if churned else stayer_scores).append(result.score)
        counts[result.bucket][0] += 1
        counts[result.bucket][1] += int(churned)
    return BacktestReport(
        model=model,
        as_of=as_of,
        horizon_days=horizon_days,
        tenants=len(churner_scores) + len(stayer_scores),
        churned=len(churner_scores),
        auc=auc(churner_scores, stayer_scores),
        buckets=[BucketOutcome(b, HealthBucket(b).label, n, c) for b, (n, c) in counts.items()],
    )
