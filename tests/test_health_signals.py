"""The health model's richer signals (issue 16 §1): onboarding completion, payment health
(from the Stripe mirror), team growth (distinct users), key-event consistency (per segment),
feature requests — each worked out by hand here — and the seeds' two models drafted from the
health model page, to back-test before publishing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from health.models import DailyEventUser, DailyRollup, HealthModel
from health.scoring import facts_for, score_tenant
from onboarding.models import Milestone, MilestoneProgress, TenantOnboarding
from tenants.models import AuditLog

from .alert_helpers import NOW, ingest, tenant_at
from .billing_helpers import StripeStory, stripe_settings

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def component(tenant, key: str, points, *, tenure: int = 90, as_of=NOW) -> dict:
    """The one component of a model that weighs only `key`, scored as of `as_of`."""
    model = HealthModel(version=99, components=[{"key": key, "weight": 10, "points": points}])
    facts = facts_for(tenant_ids=[tenant.id], as_of=as_of).get(tenant.id)
    result = score_tenant(model=model, facts=facts, tenure_days=tenure)
    return result.components[0] if result else {"score": None, "rationale": None}


def test_onboarding_completion_is_the_share_of_required_milestones_done():
    tenant = tenant_at("acme", signed_up_at=NOW - 20 * DAY)
    template_id = TenantOnboarding.objects.for_tenant(tenant).get().template_id
    required = list(Milestone.objects.filter(required=True, template_id=template_id).order_by("position"))
    for milestone in required[:2]:
        MilestoneProgress.objects.create(tenant=tenant, milestone=milestone, completed_at=NOW - DAY, source="staff")
    MilestoneProgress.objects.create(tenant=tenant, milestone=required[2], completed_at=NOW + DAY, source="staff")
    done = component(tenant, "onboarding_completion", [[0, 0], [100, 100]])
    share = round(2 * 100 / len(required), 1)  # the third is after the moment scored
    assert done["signal"] == share and done["score"] == share
    assert done["rationale"] == f"2 of {len(required)} required onboarding milestones done ({share:g} %; target 100 %)"
    bare = tenant_at("bare", signed_up_at=NOW - 20 * DAY, onboarding=False)
    assert component(bare, "onboarding_completion", [[0, 0], [100, 100]])["score"] is None


def test_payment_health_reads_the_mirror_now_and_nothing_in_the_past(settings):
    stripe_settings(settings)
    paid = tenant_at("paid", signed_up_at=NOW - 90 * DAY, onboarding=False)
    StripeStory(paid).status("active", at=NOW - 20 * DAY, event="customer.subscription.created")
    expiring = tenant_at("expiring", signed_up_at=NOW - 90 * DAY, onboarding=False)
    story = StripeStory(expiring)
    story.customer(at=NOW - 30 * DAY, exp_month=11, exp_year=2026)  # works until 30 Nov
    story.status("active", at=NOW - 30 * DAY, event="customer.subscription.created")
    late = tenant_at("late", signed_up_at=NOW - 90 * DAY, onboarding=False)
    late_story = StripeStory(late)
    late_story.customer(at=NOW - 40 * DAY)
    late_story.status("active", at=NOW - 40 * DAY, event="customer.subscription.created")
    late_story.go_past_due(at=NOW - 5 * DAY)
    points = [[0, 0], [100, 100]]
    with time_machine.travel(NOW, tick=False):
        paid_part = component(paid, "payment_health", points)
        assert (paid_part["score"], paid_part["rationale"]) == (100.0, "Paid up (100/100)")
        assert component(expiring, "payment_health", points)["rationale"] == (
            "Paid up, but the card on file stops working after 30 Nov 2026 (70/100)"
        )
        assert component(late, "payment_health", points)["rationale"] == (
            "Past due for 4 days, 1 failed attempt(s) (30/100)"  # since a second after 5 days ago
        )
        # The back-test scores a past moment: the mirror knows only now, so no payment facts.
        assert component(late, "payment_health", points, as_of=NOW - 10 * DAY)["score"] is None


def test_team_growth_compares_the_last_30_days_with_the_30_before():
    tenant = tenant_at("team", signed_up_at=NOW - 90 * DAY, onboarding=False)
    for day, users in ((NOW - 45 * DAY, ["a", "b", "c", "d"]), (NOW - 3 * DAY, ["a", "b", "c", "d", "e", "f"])):
        for user in users:
            DailyEventUser.objects.create(tenant=tenant, day=day.date(), name="call.handled", user_id=user)
    grown = component(tenant, "team_growth", [[-50, 0], [0, 80], [20, 100]])
    # 4 → 6 people: +50 %, past the +20 % that scores 100.
    assert (grown["signal"], grown["score"]) == (50.0, 100.0)
    assert grown["rationale"] == "6 people used it in the last 30 days, 4 in the 30 before (+50 %; target +20 %)"


def test_key_event_consistency_counts_the_segments_key_event_days(settings):
    settings.HEALTH_KEY_EVENTS_BY_SEGMENT = {"dental": "appointment.booked"}
    clinic = tenant_at("clinic", signed_up_at=NOW - 90 * DAY, onboarding=False, segment="dental")
    plumber = tenant_at("plumber", signed_up_at=NOW - 90 * DAY, onboarding=False)
    for back in range(0, 28, 2):  # 14 of the last 28 days
        DailyRollup.objects.create(tenant=clinic, day=(NOW - back * DAY).date(), name="appointment.booked", count=3)
        DailyRollup.objects.create(tenant=plumber, day=(NOW - back * DAY).date(), name="call.handled", count=3)
    DailyRollup.objects.create(tenant=clinic, day=(NOW - DAY).date(), name="call.handled", count=9)  # not its key
    points = [[0, 0], [50, 75], [75, 100]]
    clinic_part = component(clinic, "key_event_consistency", points)
    assert (clinic_part["signal"], clinic_part["score"]) == (50.0, 75.0)
    assert clinic_part["rationale"] == "appointment.booked on 14 of the last 28 days (50 %; target 75 %)"
    assert component(plumber, "key_event_consistency", points)["rationale"].startswith("call.handled on 14 of")
    # Ten days old, with the key event on 5 of them: judged on the days it has had.
    young = tenant_at("young", signed_up_at=NOW - 10 * DAY, onboarding=False)
    for back in range(5):
        DailyRollup.objects.create(tenant=young, day=(NOW - back * DAY).date(), name="call.handled", count=1)
    assert component(young, "key_event_consistency", points, tenure=10)["signal"] == round(5 * 100 / 11, 1)


def test_feature_requests_count_as_engagement():
    tenant = tenant_at("asks", signed_up_at=NOW - 90 * DAY, onboarding=False)
    ingest(tenant, "feature.requested", NOW - 10 * DAY, count=2, now=NOW, feature="reports")
    asked = component(tenant, "feature_requests", [[0, 50], [1, 80], [3, 100]])
    assert (asked["signal"], asked["score"]) == (2.0, 90.0)
    assert asked["rationale"] == "2 feature requests in the last 90 days (target 3)"


def test_a_cs_lead_drafts_the_seeds_models_once(client, cs_lead, billing_ops):
    client.force_login(billing_ops)
    assert client.post("/admin/customer-success/health/seeds/").status_code == 403
    client.force_login(cs_lead)
    page = client.get("/admin/customer-success/health/").content.decode()
    assert "Draft the seeds' models" in page

    done = client.post("/admin/customer-success/health/seeds/", follow=True).content.decode()
    assert "Drafted v2 Seed 004: customer health, v3 Seed 001: onboarding health" in done
    seed_004 = HealthModel.objects.get(version=2)
    assert seed_004.status == "draft" and {c["key"]: c["weight"] for c in seed_004.components} == {
        "active_days": 25, "feature_breadth": 20, "key_event_consistency": 15, "sentiment": 15,
        "feature_requests": 10, "payment_health": 5, "usage_trend": 3,
    }  # fmt: skip
    assert AuditLog.objects.filter(action="health_model.create", actor=cs_lead).count() == 2
    again = client.post("/admin/customer-success/health/seeds/", follow=True).content.decode()
    assert "The seeds&#x27; models are drafted already." in again and HealthModel.objects.count() == 3
    assert "Draft the seeds' models" not in again
    assert client.get("/admin/customer-success/health/backtest/?model=3").status_code == 200
