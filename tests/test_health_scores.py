"""Health scores as a CSM sees them: moved by events within a tick, explained per component."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command

from health.ingest import events_ingest
from health.models import HealthModel, HealthScore
from health.scoring import score_tenant, sub_score
from health.services import health_model_create_draft, health_model_publish, health_recompute_due
from tenants.models import ApiKey, Tenant, TimelineEntry

from .factories import TenantFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def ingest(tenant, *events, at: datetime = NOW):
    return events_ingest(events=[{"tenant": tenant.external_id, **e} for e in events], bound_tenant=None, now=at)


def usage(days_ago: int, name: str = "feature.used", n: int = 1, **extra):
    at = (NOW - timedelta(days=days_ago, hours=1)).isoformat()
    return [{"name": name, "occurred_at": at, "user_id": "u1", **extra} for _ in range(n)]


def tick(at: datetime = NOW) -> str:
    out = StringIO()
    with time_machine.travel(at, tick=False):
        call_command("tick", "--at", at.isoformat(), stdout=out)
    return out.getvalue()


def component(tenant, key):
    score = HealthScore.objects.for_tenant(tenant).order_by("-day").first()
    return next(c for c in score.components if c["key"] == key)


@pytest.fixture
def tenant(db):
    return TenantFactory(external_id="acme", signed_up_at=NOW - timedelta(days=40))


def test_an_event_is_in_the_score_by_the_next_tick_and_the_rationale_follows_the_signal(tenant):
    ingest(tenant, *usage(1), *usage(8))
    tick()
    tenant.refresh_from_db()
    before = tenant.health_score
    assert component(tenant, "active_days")["rationale"] == "1 active day in the last 7 (target 5)"

    ingest(tenant, *usage(2, "report.exported"), *usage(3, "call.handled"), at=NOW + timedelta(seconds=30))
    assert "1 tenant(s) scored" in tick(NOW + timedelta(minutes=1))

    tenant.refresh_from_db()
    assert tenant.health_score > before
    assert component(tenant, "active_days")["rationale"] == "3 active days in the last 7 (target 5)"
    assert component(tenant, "feature_breadth")["signal"] == 3


def test_every_component_explains_itself_and_no_data_is_left_out_not_zero(tenant):
    ingest(tenant, *usage(1, n=10), *usage(8, n=20), *usage(1, "error.raised"))
    tick()
    tenant.refresh_from_db()

    score = HealthScore.objects.for_tenant(tenant).get()
    by_key = {c["key"]: c for c in score.components}
    assert set(by_key) == {"active_days", "feature_breadth", "usage_trend", "support_load", "sentiment", "error_rate"}
    for c in score.components:
        assert set(c) == {"key", "label", "signal", "score", "weight", "contribution", "rationale"}
        assert c["rationale"]
    assert by_key["usage_trend"]["rationale"] == "Usage down 50 % week over week (20 → 10 events)"
    assert by_key["error_rate"]["rationale"] == "10 % of events were errors in the last 7 days (target ≤ 0 %)"
    assert by_key["sentiment"]["signal"] is None
    assert by_key["sentiment"]["rationale"] == "No NPS or CSAT response in the last 90 days"
    assert by_key["support_load"]["contribution"] == 0
    # Renormalised over the components with data: 30 + 20 + 15 + 10 = 75 of the weight.
    with_data = [c for c in score.components if c["score"] is not None]
    expected = sum(c["score"] * c["weight"] for c in with_data) / 75
    assert score.score == pytest.approx(expected, abs=0.1)
    assert sum(c["contribution"] for c in score.components) == pytest.approx(score.score, abs=0.3)
    assert tenant.health_score == score.score and tenant.health_bucket == score.bucket


def test_sentiment_uses_nps_scores(tenant):
    ingest(
        tenant,
        *usage(1),
        *usage(5, "nps.submitted", properties={"score": 10}),
        *usage(6, "nps.submitted", properties={"score": 7}),
    )
    tick()
    assert (
        component(tenant, "sentiment")["rationale"] == "Average NPS 8.5 from 2 responses in the last 90 days (target 9)"
    )


def test_a_new_tenant_is_judged_on_the_days_it_has_had(db):
    newcomer = TenantFactory(signed_up_at=NOW - timedelta(days=1, hours=2))
    ingest(newcomer, *usage(0), *usage(1))
    tick()
    active = component(newcomer, "active_days")
    assert active["signal"] == 7.0
    assert active["rationale"] == "2 active days in the 2 days since signup (target 5 of 7)"


def test_a_bucket_change_lands_on_the_timeline(tenant):
    for days_ago in range(1, 8):
        ingest(
            tenant,
            *usage(days_ago, n=3),
            *usage(days_ago, "call.handled"),
            *usage(days_ago, "report.exported"),
            *usage(days_ago, "sms.sent"),
            *usage(days_ago, "outreach.sent"),
        )
    for days_ago in range(8, 15):
        ingest(tenant, *usage(days_ago, n=7))
    tick()
    tenant.refresh_from_db()
    assert tenant.health_bucket == "healthy"

    later = NOW + timedelta(days=9)  # a silent week and more
    tick(later)
    tenant.refresh_from_db()
    assert tenant.health_bucket == "critical"
    entry = TimelineEntry.objects.for_tenant(tenant).get(kind="health.bucket_changed")
    assert entry.summary.startswith("Health Healthy → Critical (score ")
    assert entry.at == later


def test_tick_twice_for_one_moment_scores_once(tenant):
    ingest(tenant, *usage(1))
    first, second = tick(), tick()
    assert "health.recompute: 1 tenant(s) scored" in first
    assert "health.recompute: 0 tenant(s) scored" in second
    assert HealthScore.objects.for_tenant(tenant).count() == 1


def test_a_stale_score_is_refreshed_and_history_keeps_one_row_a_day(tenant):
    ingest(tenant, *usage(1))
    tick()
    assert "0 tenant(s) scored" in tick(NOW + timedelta(minutes=30))
    assert "1 tenant(s) scored" in tick(NOW + timedelta(hours=2))  # windows moved: stale
    tick(NOW + timedelta(days=1, hours=2))
    assert list(HealthScore.objects.for_tenant(tenant).order_by("day").values_list("day", flat=True)) == [
        NOW.date(),
        NOW.date() + timedelta(days=1),
    ]


def test_churned_tenants_are_not_rescored(tenant):
    tenant.lifecycle_stage = Tenant.LifecycleStage.CHURNED
    tenant.save()
    assert health_recompute_due(now=NOW).scored == 0


def test_recompute_health_command_scores_everyone(db):
    TenantFactory.create_batch(3)
    out = StringIO()
    call_command("recompute_health", "--at", NOW.isoformat(), stdout=out)
    assert "3 tenant(s) scored" in out.getvalue()


@pytest.mark.parametrize(
    ("value", "expected"), [(-1, 0), (0, 0), (1, 30), (2, 45), (3, 60), (4, 80), (5, 100), (9, 100)]
)
def test_sub_scores_interpolate_between_thresholds(value, expected):
    assert sub_score([[0, 0], [1, 30], [3, 60], [5, 100]], value) == expected


def test_a_model_whose_components_all_lack_data_gives_no_score():
    model = HealthModel(version=99, components=[{"key": "sentiment", "weight": 10, "points": [[0, 0], [9, 100]]}])
    assert score_tenant(model=model, facts=None, tenure_days=30) is None


@pytest.mark.parametrize(
    ("components", "fragment"),
    [
        ([], "at least one component"),
        ([{"key": "vibes", "weight": 10, "points": [[0, 0], [1, 100]]}], "unknown signal"),
        ([{"key": "sentiment", "weight": 101, "points": [[0, 0], [1, 100]]}], "weight must be"),
        ([{"key": "sentiment", "weight": 10, "points": [[0, 0]]}], "at least two"),
        ([{"key": "sentiment", "weight": 10, "points": [[0, 0], [1, 140]]}], "score 0–100"),
        ([{"key": "sentiment", "weight": 0, "points": [[0, 0], [1, 100]]}], "weight above 0"),
        ([{"key": "sentiment", "weight": 5, "points": [[0, 0], [1, 100]]}] * 2, "appears twice"),
    ],
)
def test_a_bad_model_is_refused_with_the_reason(components, fragment):
    with pytest.raises(ValidationError) as error:
        health_model_create_draft(
            name="x", components=components, healthy_min=80, at_risk_min=60, notes="", actor=None, now=NOW
        )
    assert fragment in str(error.value)
    assert HealthModel.objects.count() == 1  # only the seeded v1


def test_publishing_a_model_retires_the_old_one_and_rescores_everyone(tenant, cs_lead):
    ingest(tenant, *usage(1))
    tick()
    draft = health_model_create_draft(
        name="Stickiness only",
        components=[{"key": "active_days", "weight": 100, "points": [[0, 0], [7, 100]]}],
        healthy_min=70,
        at_risk_min=40,
        notes="",
        actor=cs_lead,
        now=NOW,
    )
    assert "0 tenant(s) scored" in tick(NOW + timedelta(minutes=1))  # a draft changes nothing

    health_model_publish(model=draft, actor=cs_lead, now=NOW)

    assert list(HealthModel.objects.order_by("version").values_list("status", flat=True)) == ["retired", "published"]
    assert "1 tenant(s) scored" in tick(NOW + timedelta(minutes=2))
    tenant.refresh_from_db()
    assert tenant.health_model_version == 2 and tenant.health_score == pytest.approx(14.3, abs=0.1)
    with pytest.raises(ValidationError, match="only a draft"):
        health_model_publish(model=draft, actor=cs_lead, now=NOW)


def test_the_api_shows_the_health_block_and_filters_by_bucket(api, make_key, tenant, tenant_b):
    ingest(tenant, *usage(1))
    tick()
    key = make_key(ApiKey.Scope.READ)

    detail = api("get", "/api/v1/tenants/acme/", key=key).json()
    assert detail["health"]["bucket"] in {"healthy", "at_risk", "critical"}
    assert len(detail["health"]["components"]) == 6
    # No usage at all is a signal, and the loudest one: a silent tenant is critical.
    silent = api("get", "/api/v1/tenants/globex/", key=key).json()["health"]
    assert silent["bucket"] == "critical" and silent["components"][0]["rationale"].startswith("0 active days")
    TenantFactory(external_id="newbie")
    assert api("get", "/api/v1/tenants/newbie/", key=key).json()["health"] is None  # not scored yet
    listed = api("get", "/api/v1/tenants/?bucket=critical", key=key).json()
    assert [t["external_id"] for t in listed["results"]] == ["acme", "globex"]
    assert set(listed["results"][0]["health"]) == {"score", "bucket", "computed_at", "data_as_of", "model_version"}
    assert api("get", "/api/v1/tenants/?bucket=healthy", key=key).json()["count"] == 0
    assert api("get", "/api/v1/tenants/?bucket=great", key=key).status_code == 400


def test_django_admin_edits_drafts_only_and_publishes_through_the_service(client, admin_staff):
    import json

    client.force_login(admin_staff)
    bad = client.post(
        "/admin/health/healthmodel/add/",
        {
            "name": "Typo",
            "healthy_min": 80,
            "at_risk_min": 60,
            "warmup_days": 14,
            "notes": "",
            "components": json.dumps([{"key": "stickyness", "weight": 10, "points": [[0, 0], [5, 100]]}]),
        },
    )
    assert bad.status_code == 200 and "unknown signal “stickyness”" in bad.content.decode()
    assert HealthModel.objects.count() == 1

    good = client.post(
        "/admin/health/healthmodel/add/",
        {
            "name": "Admin draft",
            "healthy_min": 75,
            "at_risk_min": 55,
            "warmup_days": 14,
            "notes": "",
            "components": json.dumps([{"key": "active_days", "weight": 10, "points": [[0, 0], [5, 100]]}]),
        },
    )
    assert good.status_code == 302
    draft = HealthModel.objects.get(version=2)
    assert draft.status == "draft" and draft.created_by == admin_staff

    client.post("/admin/health/healthmodel/", {"action": "publish", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == "published"
    published_page = client.get(f"/admin/health/healthmodel/{draft.pk}/change/").content.decode()
    assert 'name="components"' not in published_page  # history is read-only


def test_no_trend_says_why(db):
    young = TenantFactory(signed_up_at=NOW - timedelta(days=5))
    silent = TenantFactory(signed_up_at=NOW - timedelta(days=40))
    ingest(young, *usage(1))
    tick()
    assert component(young, "usage_trend")["rationale"] == (
        "Not enough history yet: 5 days since signup, a trend needs 14"
    )
    assert component(silent, "usage_trend")["rationale"] == "No usage in either of the last two weeks"
