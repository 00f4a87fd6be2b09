"""First use you can trust (issue 13, points 1 and 2): a customer who signed up minutes ago
is `new`, not critical, and nothing acts on its score; a tenant created through the API
onboards like a signup, with SMS consent recorded (time and source) and honoured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from alerts.models import Alert
from health.models import HealthScore
from health.services import published_model
from playbooks.models import Delivery, Run
from tenants.models import AuditLog, HealthBucket, Tenant, TimelineEntry

from .touchpoint_helpers import sms_outbox, tick_at

pytestmark = pytest.mark.django_db
URL = "/api/v1/tenants/"
# Tuesday 3 Nov 2026, 14:00 UTC: 09:00 in New York, inside the send window.
SIGNUP = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)


def body(**overrides: object) -> dict:
    return {
        "external_id": "cg-2001",
        "name": "Lakeside Dental",
        "owner_email": "maya@lakeside.example",
        "owner_name": "Maya Ortiz",
        "owner_phone": "+14155550188",
        "plan": "professional",
        "timezone": "America/New_York",
        "signed_up_at": SIGNUP.isoformat(),
        **overrides,
    }


def create(api, admin_key, **overrides: object):
    with time_machine.travel(SIGNUP + timedelta(minutes=1), tick=False):
        return api("post", URL, key=admin_key, json=body(**overrides))


def delivery(tenant: Tenant, step: str) -> Delivery:
    return Delivery.objects.for_tenant(tenant).get(step__key=step)


def open_alerts(tenant: Tenant) -> list[str]:
    return sorted(
        Alert.objects.for_tenant(tenant).exclude(status=Alert.Status.RESOLVED).values_list("rule__slug", flat=True)
    )


# --- point 2: imported tenants onboard like signups ----------------------------------------------


def test_api_tenant_with_consent_gets_the_day_0_sms_and_its_onboarding(api, admin_key, read_key):
    response = create(api, admin_key, sms_consent=True)

    assert response.status_code == 201, response.json()
    onboarding = response.json()["onboarding"]
    # The generic SaaS template (no receptionist segment): five milestones, none done.
    assert onboarding["total"] == 5 and onboarding["completed"] == 0 and onboarding["percent"] == 0
    tenant = Tenant.objects.get(external_id="cg-2001")
    assert tenant.sms_consent_at == SIGNUP + timedelta(minutes=1)
    assert tenant.sms_consent_source == "api"
    consent = TimelineEntry.objects.for_tenant(tenant).get(kind="tenant.sms_consent")
    assert consent.summary == "The owner agreed to SMS through the API"
    assert AuditLog.objects.filter(action="tenant.sms_consent", tenant=tenant).count() == 1

    tick_at(SIGNUP + timedelta(minutes=2))

    assert delivery(tenant, "welcome-sms").status == Delivery.Status.SENT
    assert [m.to for m in sms_outbox()] == ["+14155550188"]
    # The same block on the read API, milestones listed.
    detail = api("get", f"{URL}cg-2001/", key=read_key).json()
    assert detail["onboarding"]["milestones"][0]["title"] == "Verify your email"


def test_api_tenant_without_consent_skips_the_sms_and_says_why(api, admin_key):
    assert create(api, admin_key).status_code == 201
    tenant = Tenant.objects.get(external_id="cg-2001")
    assert tenant.sms_consent_at is None

    tick_at(SIGNUP + timedelta(minutes=2))

    sms = delivery(tenant, "welcome-sms")
    assert sms.status == Delivery.Status.SKIPPED
    assert sms.reason.startswith("no SMS consent")
    assert sms_outbox() == []
    # The email still goes: only the channel without consent is skipped.
    assert delivery(tenant, "welcome-email").status == Delivery.Status.SENT


def test_onboarding_incomplete_opens_at_72_hours_for_an_api_tenant(api, admin_key):
    assert create(api, admin_key).status_code == 201
    tenant = Tenant.objects.get(external_id="cg-2001")

    tick_at(SIGNUP + timedelta(hours=71, minutes=50))
    assert "onboarding_incomplete" not in open_alerts(tenant)
    tick_at(SIGNUP + timedelta(hours=72, minutes=1))
    assert "onboarding_incomplete" in open_alerts(tenant)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sms_consent": "yes"}, "Must be true or false"),
        ({"sms_consent": 1}, "Must be true or false"),
        ({"sms_consent": None}, "may not be null"),
        ({"sms_consent": True, "owner_phone": ""}, "needs owner_phone"),
    ],
)
def test_bad_sms_consent_is_a_400_naming_the_field_and_writes_nothing(api, admin_key, overrides, message):
    response = create(api, admin_key, **overrides)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["sms_consent"]
    assert message in errors["sms_consent"][0]
    assert not Tenant.objects.exists()
    assert not AuditLog.objects.filter(action__startswith="tenant.").exists()


def test_staff_record_consent_given_by_phone_and_it_is_audited(client, api, admin_key, csm):
    assert create(api, admin_key).status_code == 201
    client.force_login(csm)
    url = "/admin/customer-success/tenants/cg-2001/"

    page = client.get(url).content.decode()
    assert "SMS: no consent" in page and "Record consent given by phone" in page
    response = client.post(f"{url}sms-consent/", {"given": "1"}, follow=True)

    tenant = Tenant.objects.get(external_id="cg-2001")
    assert tenant.sms_consent_source == "staff" and tenant.sms_consent_at is not None
    audit = AuditLog.objects.get(action="tenant.sms_consent", tenant=tenant)
    assert audit.actor == csm
    assert audit.before["sms_consent_at"] is None and audit.after["sms_consent_source"] == "staff"
    text = response.content.decode()
    assert "agreed to SMS" in text and "(staff (given by phone))" not in text
    assert TimelineEntry.objects.for_tenant(tenant).get(kind="tenant.sms_consent").summary == (
        "The owner agreed to SMS by phone, recorded by staff"
    )
    assert "Withdraw SMS consent" in text


def test_staff_cannot_record_consent_without_a_phone(client, csm, tenant_a):
    Tenant.objects.filter(id=tenant_a.id).update(owner_phone="")
    client.force_login(csm)
    response = client.post(f"/admin/customer-success/tenants/{tenant_a.external_id}/sms-consent/", {"given": "1"})
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.sms_consent_at is None
    assert not AuditLog.objects.filter(action="tenant.sms_consent").exists()


# --- point 1: new tenants are not critical --------------------------------------------------------


def test_a_tenant_five_minutes_old_is_new_and_nothing_acts_on_its_score(api, admin_key, read_key):
    assert create(api, admin_key).status_code == 201
    tenant = Tenant.objects.get(external_id="cg-2001")

    tick_at(SIGNUP + timedelta(minutes=5))

    tenant.refresh_from_db()
    assert tenant.health_bucket == HealthBucket.NEW
    # No events: the score says so (for information), and nothing treats it as critical.
    assert tenant.health_score is not None and tenant.health_score < published_model().at_risk_min
    assert HealthScore.objects.for_tenant(tenant).get().bucket == "new"
    assert open_alerts(tenant) == []
    assert not Run.objects.for_tenant(tenant).filter(playbook__slug="at-risk-recovery").exists()
    health = api("get", f"{URL}cg-2001/", key=read_key).json()["health"]
    assert health["bucket"] == "new" and health["components"]


def test_after_the_warm_up_with_no_activity_it_becomes_critical_and_the_rules_fire(api, admin_key):
    assert create(api, admin_key).status_code == 201
    tenant = Tenant.objects.get(external_id="cg-2001")
    tick_at(SIGNUP + timedelta(minutes=5))
    # 13 days 23 hours: still in the 14-day warm-up.
    tick_at(SIGNUP + timedelta(days=13, hours=23))
    tenant.refresh_from_db()
    assert tenant.health_bucket == HealthBucket.NEW
    assert "health_critical" not in open_alerts(tenant)

    tick_at(SIGNUP + timedelta(days=14, minutes=5))

    tenant.refresh_from_db()
    assert tenant.health_bucket == HealthBucket.CRITICAL
    assert "health_critical" in open_alerts(tenant)
    assert Run.objects.for_tenant(tenant).filter(playbook__slug="at-risk-recovery").exists()
    change = TimelineEntry.objects.for_tenant(tenant).get(kind="health.bucket_changed")
    assert change.summary.startswith("Health New → Critical")


def test_the_warm_up_is_the_models_own_setting(api, admin_key):
    model = published_model()
    model.warmup_days = 3
    model.save(update_fields=["warmup_days"])
    assert create(api, admin_key).status_code == 201
    tenant = Tenant.objects.get(external_id="cg-2001")

    tick_at(SIGNUP + timedelta(days=3, minutes=5))

    tenant.refresh_from_db()
    assert tenant.health_bucket == HealthBucket.CRITICAL


def test_a_drop_from_a_warm_up_score_is_not_a_health_drop(api, admin_key):
    """Day 8's score (warming up, with usage) is information, not a baseline: at day 15 the
    tenant without usage is critical, but not 'down 20 % in a week'."""
    from .alert_helpers import ingest

    assert create(api, admin_key).status_code == 201
    tenant = Tenant.objects.get(external_id="cg-2001")
    for day in range(1, 9):
        ingest(tenant, "call.handled", SIGNUP + timedelta(days=day), count=5)
    tick_at(SIGNUP + timedelta(days=8, hours=1))
    week_ago = HealthScore.objects.for_tenant(tenant).get(day=(SIGNUP + timedelta(days=8)).date())
    assert week_ago.bucket == "new" and week_ago.score > 60

    tick_at(SIGNUP + timedelta(days=15, hours=1))

    tenant.refresh_from_db()
    assert tenant.health_bucket != HealthBucket.NEW
    assert "health_drop" not in open_alerts(tenant)


def test_the_tenant_list_filters_new_and_sorts_it_after_judged_tenants(client, cs_lead, db):
    from .factories import TenantFactory

    TenantFactory(external_id="judged", name="Judged", health_score=70, health_bucket="at_risk")
    TenantFactory(external_id="fresh", name="Fresh", health_score=10, health_bucket="new")
    TenantFactory(external_id="bad", name="Bad", health_score=30, health_bucket="critical")
    client.force_login(cs_lead)

    worst_first = client.get("/admin/customer-success/tenants/?sort=health").content.decode()
    assert worst_first.index("Bad") < worst_first.index("Judged") < worst_first.index("Fresh")
    only_new = client.get("/admin/customer-success/tenants/?bucket=new").content.decode()
    assert "Fresh" in only_new and "Judged" not in only_new and "Bad" not in only_new


def test_a_page_for_another_role_says_whose_it_is_in_the_sites_own_layout(client, cs_lead):
    client.force_login(cs_lead)
    response = client.get("/admin/billing/")

    assert response.status_code == 403
    page = response.content.decode()
    assert "This page is for Billing ops and Admin." in page
    assert "css/cockpit.css" in page and "Back to your start page" in page


# --- an existing customer imported long after its signup --------------------------------------


def test_an_imported_customer_is_judged_from_its_import_not_its_old_signup(api, admin_key):
    """Signed up 400 days ago, imported today: the cockpit has none of its history, so the
    first tick must not call it critical, inactive and overdue on onboarding all at once."""
    imported = SIGNUP + timedelta(minutes=1)
    response = create(api, admin_key, signed_up_at=(SIGNUP - timedelta(days=400)).isoformat())
    assert response.status_code == 201
    tenant = Tenant.objects.get(external_id="cg-2001")
    assert tenant.imported_at == imported and tenant.lifecycle_stage == "adoption"

    tick_at(SIGNUP + timedelta(minutes=5))
    tenant.refresh_from_db()
    assert tenant.health_bucket == HealthBucket.NEW
    assert open_alerts(tenant) == []
    # Touchpoints: the old days are stale, not sent (no backlog).
    assert not Delivery.objects.for_tenant(tenant).filter(status=Delivery.Status.SENT).exists()

    # Its onboarding clock started at the import: overdue 72 hours later, not before.
    tick_at(imported + timedelta(hours=71))
    assert open_alerts(tenant) == []
    tick_at(imported + timedelta(hours=72, minutes=1))
    assert open_alerts(tenant) == ["onboarding_incomplete"]

    # Seven days after the import without an event it is inactive; after the warm-up, critical.
    tick_at(imported + timedelta(days=7, hours=1))
    assert "no_activity" in open_alerts(tenant)
    no_activity = Alert.objects.for_tenant(tenant).get(rule__slug="no_activity")
    assert no_activity.rationale.startswith("no events since its import 7 days")
    tick_at(imported + timedelta(days=14, hours=1))
    tenant.refresh_from_db()
    assert tenant.health_bucket == HealthBucket.CRITICAL
    assert "health_critical" in open_alerts(tenant)


def test_a_signup_synced_within_the_hour_is_not_an_import(api, admin_key):
    assert create(api, admin_key, signed_up_at=(SIGNUP - timedelta(minutes=50)).isoformat()).status_code == 201
    assert Tenant.objects.get(external_id="cg-2001").imported_at is None


def test_the_warm_up_ends_at_its_moment_not_at_the_next_hourly_rescore(api, admin_key, client, csm):
    assert create(api, admin_key).status_code == 201
    tenant = Tenant.objects.get(external_id="cg-2001")
    tick_at(SIGNUP + timedelta(days=13, hours=23, minutes=30))
    client.force_login(csm)
    with time_machine.travel(SIGNUP + timedelta(days=13, hours=23, minutes=40), tick=False):
        page = client.get("/admin/customer-success/tenants/cg-2001/").content.decode()
    assert "Warming up — 13 days of data" in page

    # 31 minutes later: scored half an hour ago, but the warm-up is over now.
    tick_at(SIGNUP + timedelta(days=14, minutes=1))
    tenant.refresh_from_db()
    assert tenant.health_bucket == HealthBucket.CRITICAL
