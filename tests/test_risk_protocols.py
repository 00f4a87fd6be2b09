"""Seed 004's risk protocols (issue 16 §1, §5): high risk (critical) runs the recovery play;
the medium-risk band (40–70, outside the critical bucket) opens `health_medium_risk` and its
outreach play; a subscription set to cancel opens `cancellation_intent` and the save play —
each play's first step on its day, from the alert, through the same tick as every play."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing.models import Subscription
from playbooks.models import Run, Task

from .alert_helpers import NOW, alerts_of, evaluate, set_current_score, tenant_at
from .touchpoint_helpers import tick_at

pytestmark = pytest.mark.django_db


def test_the_medium_risk_band_opens_its_alert_and_outreach_play(csm):
    medium = tenant_at("medium", signed_up_at=NOW - timedelta(days=90), csm_owner=csm)
    critical = tenant_at("critical", signed_up_at=NOW - timedelta(days=90), csm_owner=csm)
    healthy = tenant_at("healthy", signed_up_at=NOW - timedelta(days=90), csm_owner=csm)
    set_current_score(medium, 65, NOW)  # at risk (60–79) and in 40–70
    set_current_score(critical, 45, NOW)  # in 40–70 but critical: the recovery play's
    set_current_score(healthy, 85, NOW)
    evaluate(NOW)

    [alert] = alerts_of(medium, "health_medium_risk")
    assert alert.rationale == "health score 65 is in the medium-risk band (40–69)" and alert.severity == "P3"
    assert not alerts_of(critical, "health_medium_risk") and alerts_of(critical, "health_critical")
    assert not alerts_of(healthy, "health_medium_risk")
    assert Run.objects.for_tenant(medium).filter(playbook__slug="medium-risk-outreach").count() == 1
    assert not Run.objects.for_tenant(critical).filter(playbook__slug="medium-risk-outreach").exists()


def test_a_subscription_set_to_cancel_starts_the_save_play(csm):
    acme = tenant_at("acme", signed_up_at=NOW - timedelta(days=200), csm_owner=csm, name="Acme Dental",
                     owner_name="Dana Reyes")  # fmt: skip
    Subscription.all_tenants.create(
        tenant=acme, stripe_id="sub_1", status="active", plan="professional", mrr_cents=4900, list_mrr_cents=4900,
        state_at=NOW, created_at=NOW, updated_at=NOW, cancel_at_period_end=True,
        current_period_end=NOW + timedelta(days=12),
    )  # fmt: skip
    tick_at(NOW)
    tick_at(NOW + timedelta(minutes=1))  # the run's first task is due at once

    [run] = Run.objects.for_tenant(acme).filter(playbook__slug="save-play")
    assert run.trigger == "alert" and alerts_of(acme, "cancellation_intent")
    [task] = Task.objects.for_tenant(acme).filter(title__contains="set their subscription to cancel")
    assert task.title == "Acme Dental set their subscription to cancel: call Dana Reyes today"
    assert task.assignee == csm and task.due_at <= NOW + timedelta(hours=4, minutes=1)
