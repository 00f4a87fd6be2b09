"""Tier playbooks and re-engagement (issue 16 §7, seeds 004 and 001): a Business signup gets
the white-glove play — the CS lead names a dedicated success manager, who calls within 24
hours, and a check-in at the end of the first month; a tenant quiet for a week gets
"We miss you", and the CSM's outreach three days later unless they came back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from playbooks.models import Delivery, Run, Task

from .alert_helpers import NOW, ingest, tenant_at
from .touchpoint_helpers import tick_at

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)


def test_a_business_signup_gets_the_white_glove_play(csm, cs_lead):
    vip = tenant_at("vip", signed_up_at=NOW, plan="business", csm_owner=csm, name="Vip Dental", owner_name="Ana Ruiz")
    starter = tenant_at("small", signed_up_at=NOW, plan="starter", csm_owner=csm)
    tick_at(NOW + MINUTE)
    tick_at(NOW + 2 * MINUTE)

    assert Run.objects.for_tenant(vip).filter(playbook__slug="business-white-glove").count() == 1
    assert not Run.objects.for_tenant(starter).filter(playbook__slug="business-white-glove").exists()
    tasks = {t.title: t for t in Task.objects.for_tenant(vip).filter(title__contains="Vip Dental")}
    name = tasks["Name a dedicated success manager for Vip Dental (Business)"]
    call = tasks["Welcome call with Ana Ruiz at Vip Dental within 24 hours"]
    assert name.role == "cs_lead" and call.assignee == csm
    assert call.due_at <= NOW + timedelta(hours=24, minutes=2)
    # The first monthly check-in waits for its day (the QBR comes with the renewal runway).
    later = Delivery.objects.for_tenant(vip).filter(run__playbook__slug="business-white-glove", status="scheduled")
    assert {d.step.key for d in later} == {"month-1-check-in"}


def test_a_quiet_tenant_is_missed_and_the_csm_reaches_out_unless_they_come_back(csm):
    quiet = tenant_at("quiet", signed_up_at=NOW - timedelta(days=60), csm_owner=csm, name="Quiet Co", onboarding=False)
    back = tenant_at("back", signed_up_at=NOW - timedelta(days=60), csm_owner=csm, name="Back Co", onboarding=False)
    for tenant in (quiet, back):
        ingest(tenant, "call.handled", NOW - timedelta(days=9), now=NOW)  # then nothing for 9 days
    tick_at(NOW)
    assert Run.objects.for_tenant(quiet).filter(playbook__slug="we-miss-you").count() == 1
    # Due two hours after the alert (17:00), past the send window: it goes at 09:00 next morning.
    tick_at(NOW + timedelta(hours=18, minutes=1))
    assert Delivery.objects.for_tenant(quiet).get(step__key="we-miss-you").status in ("sent", "delivered")

    ingest(back, "call.handled", NOW + timedelta(days=1), now=NOW + timedelta(days=1))  # back at work
    tick_at(NOW + timedelta(days=3, minutes=1))
    tick_at(NOW + timedelta(days=3, minutes=2))
    assert Task.objects.for_tenant(quiet).filter(title="Quiet Co is still quiet: reach out personally").exists()
    assert not Task.objects.for_tenant(back).filter(title__contains="still quiet").exists()
