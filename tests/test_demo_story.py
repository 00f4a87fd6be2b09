"""The demo tells one coherent story: every demo tenant's score, onboarding, billing, alerts and
touchpoints agree with each other, the logins `make demo` prints land on work, and each message
the demo sends is one readable line in the log and one readable block in var/.

Seeded small (30 tenants, 60 days) as of a fixed moment, then one tick — as `make demo` leaves
it a minute after starting."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db.models import Max, Min
from django.utils.html import escape

from alerts.models import ACTIVE_STATUSES, Alert
from billing.demo import TRIAL_DAYS
from billing.models import Subscription
from core.roles import StaffRole, staff_roles_of
from core.ticks import run_tick
from cs_cockpit.demo_data import DEMO_BILLING_LOGIN, DEMO_LOGIN, seed_demo
from health.models import Event
from messaging import sms
from messaging.email import email_send
from onboarding.models import Milestone, MilestoneProgress, TenantOnboarding
from playbooks.models import Delivery, Task
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)  # a Wednesday, inside most send windows
PAST_DUE = ("past_due", "unpaid")


@pytest.fixture
def demo() -> list[Tenant]:
    seed_demo(tenants=30, days=60, now=NOW)
    run_tick(now=NOW)
    return list(Tenant.objects.select_related("csm_owner").order_by("external_id"))


def _live(tenants: list[Tenant]) -> list[Tenant]:
    return [t for t in tenants if t.lifecycle_stage != Tenant.LifecycleStage.CHURNED]


def _onboarding_percent(tenant: Tenant) -> int:
    onboarding = TenantOnboarding.all_tenants.get(tenant=tenant)
    total = Milestone.objects.filter(template_id=onboarding.template_id).count()
    return round(MilestoneProgress.all_tenants.filter(tenant=tenant).count() * 100 / total)


def test_a_stalled_half_done_onboarding_is_never_healthy_and_every_healthy_tenant_went_live(demo):
    stalled_early, healthy = [], []
    for tenant in _live(demo):
        onboarding = TenantOnboarding.all_tenants.get(tenant=tenant)
        if onboarding.stalled_since and _onboarding_percent(tenant) < 50:
            stalled_early.append(tenant)
            assert tenant.health_bucket != "healthy", f"{tenant.external_id} is stalled under 50 % yet healthy"
        if tenant.health_bucket == "healthy":
            healthy.append(tenant)
            assert onboarding.completed_at is not None, f"{tenant.external_id} is healthy but never finished onboarding"
    # Both kinds are in the demo: the rules above were checked against real cases.
    assert stalled_early and healthy


def test_usage_starts_when_the_wizard_is_done_and_stops_when_the_tenant_leaves(demo):
    churned = 0
    for tenant in demo:
        events = Event.all_tenants.filter(tenant=tenant).aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
        wizard = MilestoneProgress.all_tenants.filter(tenant=tenant, milestone__completion=Milestone.Completion.WIZARD)
        wizard_total = Milestone.objects.filter(
            template_id=TenantOnboarding.all_tenants.get(tenant=tenant).template_id,
            completion=Milestone.Completion.WIZARD,
        ).count()
        if wizard.count() < wizard_total:
            # No number, no calls: a tenant that did not finish the wizard has no usage at all.
            assert events["first"] is None, f"{tenant.external_id} has events but never went live"
        elif events["first"] is not None:
            went_live = wizard.aggregate(at=Max("completed_at"))["at"]
            assert events["first"] >= went_live, f"{tenant.external_id} used the product before going live"
        if tenant.lifecycle_stage == Tenant.LifecycleStage.CHURNED:
            churned += 1
            assert events["last"] is None or events["last"] <= tenant.churned_at, (
                f"{tenant.external_id} has events after it churned"
            )
    assert churned


def test_a_canceled_subscription_is_a_churned_tenant_on_the_day_it_ended(demo):
    canceled = Subscription.all_tenants.filter(status="canceled").select_related("tenant")
    assert canceled.exists()
    for subscription in canceled:
        tenant = subscription.tenant
        assert tenant.lifecycle_stage == Tenant.LifecycleStage.CHURNED, tenant.external_id
        assert tenant.churned_at == subscription.canceled_at, tenant.external_id
        assert tenant.churn_reason, f"{tenant.external_id} churned without a reason"
    # And the other way round: nobody churned while still paying.
    churned_ids = {t.id for t in demo if t.lifecycle_stage == Tenant.LifecycleStage.CHURNED}
    assert churned_ids == set(canceled.values_list("tenant_id", flat=True))


def test_billing_state_agrees_with_alerts_health_and_age_after_a_tick(demo):
    subscriptions = {s.tenant_id: s for s in Subscription.all_tenants.all()}
    active_alerts = set(
        Alert.all_tenants.filter(status__in=ACTIVE_STATUSES).values_list("tenant_id", "rule__slug", "route")
    )
    past_due = 0
    for tenant in _live(demo):
        subscription = subscriptions[tenant.id]
        if subscription.status in PAST_DUE:
            past_due += 1
            assert (tenant.id, "subscription_past_due", "billing_ops") in active_alerts, tenant.external_id
        if subscription.status == "unpaid":
            assert tenant.health_bucket != "healthy", f"{tenant.external_id} is unpaid yet healthy"
        # A trial is 14 days: younger tenants are trialing, older ones are past it.
        in_trial = NOW - tenant.signed_up_at < timedelta(days=TRIAL_DAYS)
        assert (subscription.status == "trialing") == in_trial, tenant.external_id
    assert past_due
    # A churned tenant is off every queue: no active alert, nothing scheduled to send.
    churned = [t.id for t in demo if t.lifecycle_stage == Tenant.LifecycleStage.CHURNED]
    assert not Alert.all_tenants.filter(tenant_id__in=churned, status__in=ACTIVE_STATUSES).exists()
    assert not Delivery.all_tenants.filter(tenant_id__in=churned, status="scheduled").exists()


def test_the_printed_logins_land_on_pages_with_their_work(demo, client):
    lead = next(t.csm_owner for t in demo if t.csm_owner and t.csm_owner.get_username() == DEMO_LOGIN)
    assert {StaffRole.CSM, StaffRole.CS_LEAD} <= staff_roles_of(lead)
    theirs = [t for t in demo if t.csm_owner_id == lead.id]
    assert len(theirs) >= len(demo) // 10
    alerts = Alert.all_tenants.filter(assignee=lead, status__in=ACTIVE_STATUSES).select_related("tenant")
    tasks = Task.all_tenants.filter(assignee=lead, status=Task.Status.OPEN)
    assert alerts.exists() and tasks.exists()

    client.force_login(lead)
    home = client.get("/admin/customer-success/?scope=mine")
    assert home.status_code == 200
    assert any(escape(t.name) in home.content.decode() for t in theirs)  # the head of their queue
    page = client.get(f"/admin/customer-success/tenants/?csm={lead.id}").content.decode()
    missing = [t.name for t in theirs if escape(t.name) not in page]
    assert not missing, missing
    page = client.get("/admin/customer-success/alerts/?assignee=me").content.decode()
    assert escape(alerts.first().tenant.name) in page
    page = client.get("/admin/customer-success/tasks/").content.decode()
    assert escape(tasks.first().title) in page

    billing = type(lead).objects.get(username=DEMO_BILLING_LOGIN)
    assert staff_roles_of(billing) == {StaffRole.BILLING_OPS}
    client.force_login(billing)
    queue = client.get("/admin/billing/").content.decode()
    past_due = Subscription.all_tenants.filter(status__in=PAST_DUE).exclude(tenant__lifecycle_stage="churned")
    assert past_due.exists() and all(escape(s.tenant.name) in queue for s in past_due.select_related("tenant"))


def test_each_message_sent_is_one_line_in_the_log(caplog):
    caplog.set_level(logging.INFO)
    email_send(to="dana@harbor.example", subject="Welcome to Harbor HVAC", text="Hello\n" * 40)
    body = "Your payment failed. Update your card here: http://127.0.0.1:8123/billing/portal/abc/"
    sms.sms_send(sms.SmsMessage(to="+14155550123", body=body, tenant="harbor", delivery_id=None))

    lines = [r.getMessage() for r in caplog.records if r.name.startswith("messaging.")]
    assert lines == [
        "email to dana@harbor.example: Welcome to Harbor HVAC",
        f"sms to +14155550123: {body[:60]}",
    ]
    assert len(mail.outbox) == 1 and len(sms.outbox) == 1


def test_the_demo_mail_file_keeps_a_long_link_whole(settings, tmp_path):
    settings.MAILERS = {
        "default": {"BACKEND": "cs_cockpit.mail.ReadableFileBackend", "OPTIONS": {"file_path": str(tmp_path)}}
    }
    link = "http://127.0.0.1:8123/billing/portal/" + "eyJ0ZW5hbnQiOjEyMywiZW1haWwiOiJkYW5hQGhhcmJvci5leGFtcGxlIn0:1vOa/"
    text = f"Hi Dana, the latest payment for Harbor HVAC did not go through. Update your card here: {link} thanks"
    email_send(to="dana@harbor.example", subject="Update your payment details", text=text)

    [written] = list(tmp_path.iterdir())
    content = written.read_text()
    assert "Subject: Update your payment details" in content and "To: dana@harbor.example" in content
    # Django's raw MIME would wrap this 140-character line with quoted-printable soft breaks.
    assert f" {link} " in content
