from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from health.backtest import auc, backtest
from health.ingest import events_ingest
from health.services import health_model_create_draft, published_model
from tenants.services import tenant_mark_churned

from .factories import TenantFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("churners", "stayers", "expected"),
    [
        ([10, 20], [80, 90], 1.0),  # every churner below every stayer
        ([80, 90], [10, 20], 0.0),
        ([50], [50], 0.5),  # a tie counts half
        ([10, 60], [50, 90], 0.75),
        ([], [50], None),
    ],
)
def test_auc(churners, stayers, expected):
    assert auc(churners, stayers) == expected


@pytest.fixture
def history(db):
    """Four tenants that went quiet and churned, four that kept using the product."""
    for n in range(4):
        quitter = TenantFactory(external_id=f"quit-{n}", signed_up_at=NOW - timedelta(days=60))
        keeper = TenantFactory(external_id=f"keep-{n}", signed_up_at=NOW - timedelta(days=60))
        events = []
        for days_ago in range(60, 0, -1):
            at = (NOW - timedelta(days=days_ago)).isoformat()
            events += [{"tenant": keeper.external_id, "name": f"feature.f{k}", "occurred_at": at} for k in range(5)]
            if days_ago > 30 + n:  # the quitters fade out three to four weeks before the end
                events += [{"tenant": quitter.external_id, "name": "feature.f1", "occurred_at": at}]
        events_ingest(events=events, bound_tenant=None, now=NOW)
        tenant_mark_churned(tenant=quitter, at=NOW - timedelta(days=5 + n), reason="no_value", actor=None, now=NOW)


def test_the_default_model_separates_churners_from_stayers(history):
    report = backtest(model=published_model(), now=NOW, horizon_days=21)

    assert (report.tenants, report.churned) == (8, 4)
    assert report.auc == 1.0
    by_bucket = {row.bucket: row for row in report.buckets}
    assert by_bucket["healthy"].churned == 0 and by_bucket["healthy"].tenants == 4
    assert by_bucket["critical"].churn_rate == 100.0


def test_a_model_that_rewards_the_wrong_thing_scores_worse_side_by_side(history):
    inverted = health_model_create_draft(
        name="Inverted",
        components=[{"key": "active_days", "weight": 100, "points": [[0, 100], [7, 0]]}],
        healthy_min=80,
        at_risk_min=60,
        notes="",
        actor=None,
        now=NOW,
    )
    out = StringIO()
    call_command("backtest_health", "--model", str(inverted.version), "--at", NOW.isoformat(), stdout=out)

    lines = out.getvalue().splitlines()
    summaries = [line for line in lines if line.startswith("model v")]
    assert summaries[0].startswith("model v1 Seeded blend: AUC 1.000 over 8 tenants (4 churned")
    assert summaries[1].startswith("model v2 Inverted: AUC 0.000")
    assert any(line.strip().startswith("Critical") for line in lines)


def test_backtest_command_names_a_missing_model(db):
    with pytest.raises(CommandError, match="No health model v9"):
        call_command("backtest_health", "--model", "9", stdout=StringIO())
