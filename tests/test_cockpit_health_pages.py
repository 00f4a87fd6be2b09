from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from health.ingest import events_ingest
from health.models import HealthModel
from health.services import health_backfill_history, health_recompute_all
from tenants.models import AuditLog
from tenants.services import timeline_record

from .factories import TenantFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def scored_tenant(db):
    tenant = TenantFactory(external_id="acme", name="Acme Plumbing", signed_up_at=NOW - timedelta(days=40))
    events = [
        {"tenant": "acme", "name": name, "occurred_at": (NOW - timedelta(days=d, hours=2)).isoformat()}
        for d in range(1, 30)
        for name in ("call.handled", "report.exported")
    ]
    events_ingest(events=events, bound_tenant=None, now=NOW)
    health_backfill_history(now=NOW, days=14)
    timeline_record(tenant=tenant, at=NOW - timedelta(days=40), kind="tenant.created", summary="Acme signed up")
    health_recompute_all(now=NOW)
    tenant.refresh_from_db()
    return tenant


def test_tenant_page_explains_the_score_with_trend_and_timeline(client, csm, scored_tenant):
    client.force_login(csm)
    page = client.get("/admin/customer-success/tenants/acme/").content.decode()

    assert "Acme Plumbing" in page
    assert "7 active days in the last 7 (target 5)" in page  # the 7 days before today
    assert "2 distinct features used in the last 14 days (target 5)" in page
    assert "No NPS or CSAT response in the last 90 days" in page and "left out" in page
    assert "<polyline" in page  # the 14-day trend, its dates and bucket lines written on it
    assert "lines at 60 (at risk) and 80 (healthy)" in page and ">8 Nov</text>" in page
    assert "data as of 22 Nov 2026 12:00 UTC" in page
    assert "Acme signed up" in page  # the timeline
    assert AuditLog.objects.filter(action="tenant.view", actor=csm, tenant=scored_tenant).count() == 1


def test_tenant_page_without_a_score_says_when_it_comes(client, csm, tenant_a):
    client.force_login(csm)
    assert "No health score yet" in client.get("/admin/customer-success/tenants/acme/").content.decode()


def test_unknown_tenant_is_404(client, csm, db):
    client.force_login(csm)
    assert client.get("/admin/customer-success/tenants/nope/").status_code == 404


def test_tenant_page_query_count_is_pinned(client, csm, scored_tenant, django_assert_num_queries):
    client.force_login(csm)
    # session, user, roles, tenant, history, audit insert, latest score, week-over-week,
    # onboarding (none here), timeline; touchpoints: pause, runs, deliveries, suppressions,
    # open tasks, playbooks to start; alerts (one query, active first); notes (the first few
    # and their count); the CS team for the assign and task forms; QA (count + mean, newest);
    # support (the tickets' events of 90 days, one query)
    with django_assert_num_queries(27):  # + the Stripe subscription and trial, opportunities, referrals
        assert client.get("/admin/customer-success/tenants/acme/").status_code == 200


def test_tenant_list_shows_health_and_filters_by_bucket(client, csm, scored_tenant, tenant_b):
    client.force_login(csm)
    page = client.get("/admin/customer-success/tenants/?bucket=" + scored_tenant.health_bucket).content.decode()
    assert "Acme Plumbing" in page and "Globex Dental" not in page
    assert f"{scored_tenant.health_score:.0f}</span>" in page
    worst_first = client.get("/admin/customer-success/tenants/?sort=health").content.decode()
    assert worst_first.index("Acme Plumbing") < worst_first.index("Globex Dental")  # unscored last


def test_model_page_lists_versions_and_only_editors_get_the_buttons(client, csm, cs_lead):
    client.force_login(csm)
    page = client.get("/admin/customer-success/health/").content.decode()
    assert "v1 · Seeded blend" in page and "Active days (stickiness)" in page and "0→0, 1→30, 3→60, 5→100" in page
    assert "New version" not in page
    assert client.get("/admin/customer-success/health/new/").status_code == 403
    client.force_login(cs_lead)
    assert "New version" in client.get("/admin/customer-success/health/").content.decode()


def form_data(**overrides):
    data = {
        "name": "Stickier",
        "healthy_min": 80,
        "at_risk_min": 60,
        "warmup_days": 21,
        "notes": "More weight on active days",
    }
    for key, weight, points in [
        ("active_days", 50, "0→0, 1→30, 3→60, 5→100"),
        ("feature_breadth", 20, "0→0, 1→25, 3→70, 5→100"),
        ("usage_trend", 10, "-50→0, -20→50, 0→85, 10→100"),
        ("support_load", 10, "0→100, 1→80, 3→50, 5→20, 8→0"),
        ("sentiment", 10, "0→0, 6→40, 7→70, 9→100"),
        ("error_rate", 0, ""),
        ("qa_score", 0, ""),
        ("onboarding_completion", 0, ""),
        ("payment_health", 0, ""),
        ("team_growth", 0, ""),
        ("key_event_consistency", 0, ""),
        ("feature_requests", 0, ""),
    ]:
        data[f"{key}_weight"], data[f"{key}_points"] = weight, points
    return {**data, **overrides}


def test_a_cs_lead_drafts_back_tests_and_publishes_a_model(client, cs_lead, scored_tenant):
    client.force_login(cs_lead)

    created = client.post("/admin/customer-success/health/new/", form_data())
    assert created.status_code == 302 and created.url == "/admin/customer-success/health/backtest/?model=2"
    draft = HealthModel.objects.get(version=2)
    assert draft.warmup_days == 21
    assert draft.status == "draft" and [c["key"] for c in draft.components] == [
        "active_days",
        "feature_breadth",
        "usage_trend",
        "support_load",
        "sentiment",
    ]

    backtest_page = client.get(created.url).content.decode()
    assert "v1 · Seeded blend" in backtest_page and "v2 · Stickier" in backtest_page
    assert backtest_page.count("AUC") >= 2

    published = client.post("/admin/customer-success/health/2/publish/")
    assert published.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "published"
    assert AuditLog.objects.filter(action="health_model.publish", actor=cs_lead).exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"active_days_points": "0 to 0, 5 to 100"}, "needs an arrow"),
        ({"active_days_points": "a→b"}, "is not “signal→score”"),
        ({"active_days_points": "0→0"}, "at least two"),
        ({"healthy_min": 50, "at_risk_min": 60}, "at-risk minimum &lt; healthy minimum"),
        ({"warmup_days": 91}, "less than or equal to 90"),
        ({"warmup_days": "two weeks"}, "Enter a whole number"),
        (
            {
                "active_days_weight": 0,
                "feature_breadth_weight": 0,
                "usage_trend_weight": 0,
                "support_load_weight": 0,
                "sentiment_weight": 0,
            },
            "at least one component",
        ),
    ],
)
def test_a_bad_draft_is_refused_with_the_reason_and_nothing_saved(client, cs_lead, overrides, message):
    client.force_login(cs_lead)
    response = client.post("/admin/customer-success/health/new/", form_data(**overrides))
    assert response.status_code == 400
    assert message.lower() in response.content.decode().lower()
    assert HealthModel.objects.count() == 1


def test_the_score_trend_has_its_axes_worked_out_by_hand():
    """300 × 96 box: the plot runs from x 26 (after the y labels) to 296 and from y 80 (the x
    axis, 16 px above the bottom for the dates) up to 6, so a point moves 270/14 px a day
    and 0.74 px a score point."""
    from datetime import date

    from core.charts import sparkline

    trend = sparkline([(date(2026, 11, 1), 0), (date(2026, 11, 8), 60), (date(2026, 11, 15), 100)])

    assert trend.points == "26.0,80.0 161.0,35.6 296.0,6.0"
    assert [(t.label, round(t.at, 1)) for t in trend.y_ticks] == [("0", 80.0), ("60", 35.6), ("80", 20.8), ("100", 6.0)]
    assert [(t.label, t.at) for t in trend.x_ticks] == [("1 Nov", 26.0), ("8 Nov", 161.0), ("15 Nov", 296.0)]
    assert (trend.low, trend.high) == (0, 100)
    # Under two weeks: the first and last dates only; one day: nothing to draw.
    assert [t.label for t in sparkline([(date(2026, 11, 1), 50), (date(2026, 11, 5), 70)]).x_ticks] == [
        "1 Nov",
        "5 Nov",
    ]
    assert sparkline([(date(2026, 11, 1), 50)]) is None
