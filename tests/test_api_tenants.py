from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from tenants.models import ApiKey, AuditLog, Tenant, TimelineEntry
from tenants.services import api_key_revoke

from .factories import TenantFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/tenants/"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def valid_body(**overrides):
    return {
        "external_id": "cg-1001",
        "name": "Harbor HVAC",
        "owner_email": "dana@harbor.example",
        "owner_name": "Dana Smith",
        "owner_phone": "+14155550123",
        "plan": "professional",
        "timezone": "America/New_York",
        **overrides,
    }


@time_machine.travel(NOW, tick=False)
def test_admin_key_creates_a_tenant_with_timeline_and_audit(api, admin_key):
    response = api("post", URL, key=admin_key, json=valid_body())

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["external_id"] == "cg-1001"
    assert body["plan"] == "professional"
    assert body["timezone"] == "America/New_York"
    assert body["signed_up_at"] == "2026-11-22T12:00:00Z"
    assert body["lifecycle_stage"] == "onboarding"
    assert body["health"] is None and body["subscription"] is None
    # Its onboarding started as a signup's does (CONTRACTS.md): the checklist is there.
    assert body["onboarding"]["completed"] == 0 and body["onboarding"]["total"] > 0
    tenant = Tenant.objects.get(external_id="cg-1001")
    assert "tenant.created" in [e.kind for e in TimelineEntry.objects.for_tenant(tenant)]
    audit = AuditLog.objects.get(action="tenant.create")
    assert audit.tenant == tenant and audit.actor_label.startswith("api key admin key")


def test_duplicate_external_id_is_409_and_writes_nothing(api, admin_key):
    assert api("post", URL, key=admin_key, json=valid_body()).status_code == 201
    response = api("post", URL, key=admin_key, json=valid_body(name="Another name"))

    assert response.status_code == 409
    assert "cg-1001" in response.json()["error"]
    assert Tenant.objects.count() == 1
    assert AuditLog.objects.filter(action="tenant.create").count() == 1


@pytest.mark.parametrize(
    ("override", "field", "fragment"),
    [
        ({"plan": "enterprise"}, "plan", "not a valid choice"),
        ({"timezone": "Mars/Olympus"}, "timezone", "IANA"),
        ({"owner_phone": "415-555-0123"}, "owner_phone", "E.164"),
        ({"owner_phone": "+1415"}, "owner_phone", "E.164"),
        ({"name": "x" * 201}, "name", "200 characters"),
        ({"name": "   "}, "name", "blank"),
        ({"owner_email": "not-an-email"}, "owner_email", "valid email"),
        ({"external_id": "has spaces"}, "external_id", "letters, digits"),
        ({"signed_up_at": "yesterday"}, "signed_up_at", "format"),
        ({"signed_up_at": "2099-01-01T00:00:00Z"}, "signed_up_at", "future"),
    ],
)
def test_invalid_field_is_400_naming_the_field_and_nothing_is_written(api, admin_key, override, field, fragment):
    response = api("post", URL, key=admin_key, json=valid_body(**override))

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == [field], errors
    assert fragment.lower() in " ".join(errors[field]).lower()
    assert Tenant.objects.count() == 0
    assert not AuditLog.objects.filter(action="tenant.create").exists()


def test_missing_fields_are_named(api, admin_key):
    response = api("post", URL, key=admin_key, json={"name": "No id"})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"external_id", "owner_email", "plan"}


def test_malformed_json_is_a_json_400(api, admin_key, client):
    response = client.post(
        URL,
        data="{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["errors"]["non_field_errors"][0]


def test_past_signup_is_accepted_and_stage_follows_the_date(api, admin_key):
    signed_up = (timezone.now() - timedelta(days=45)).isoformat()
    response = api("post", URL, key=admin_key, json=valid_body(signed_up_at=signed_up))

    assert response.status_code == 201
    assert response.json()["lifecycle_stage"] == "adoption"


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("Bearer", 401),
        ("Token abc", 401),
        ("Bearer csk_nope_nope", 401),
        ("Bearer garbage", 401),
    ],
)
def test_missing_or_invalid_key_is_401_json(client, db, header, status):
    headers = {"Authorization": header} if header else {}
    response = client.get(URL, headers=headers)
    assert response.status_code == status
    assert "error" in response.json()


def test_revoked_key_is_401(api, make_key):
    plaintext = make_key(ApiKey.Scope.ADMIN)
    api_key_revoke(api_key=ApiKey.objects.get(), actor=None, now=timezone.now())
    assert api("get", URL, key=plaintext).status_code == 401


def test_wrong_scope_is_403(api, make_key):
    ingest = make_key(ApiKey.Scope.INGEST)
    read = make_key(ApiKey.Scope.READ)
    assert api("get", URL, key=ingest).status_code == 403
    assert api("post", URL, key=read, json=valid_body()).status_code == 403
    assert Tenant.objects.count() == 0


def test_tenant_bound_admin_key_cannot_create_tenants(api, make_key, tenant_a):
    key = make_key(ApiKey.Scope.ADMIN, tenant=tenant_a)
    assert api("post", URL, key=key, json=valid_body()).status_code == 403


def test_list_is_paginated_and_filtered(api, read_key):
    csm = UserFactory(username="maria")
    TenantFactory.create_batch(3, plan=Tenant.Plan.BUSINESS, csm_owner=csm)
    TenantFactory.create_batch(60, plan=Tenant.Plan.STARTER)

    first_page = api("get", URL, key=read_key).json()
    assert first_page["count"] == 63 and len(first_page["results"]) == 50 and first_page["next"]
    by_plan = api("get", URL + "?plan=business", key=read_key).json()
    assert by_plan["count"] == 3 and {t["plan"] for t in by_plan["results"]} == {"business"}
    by_csm = api("get", URL + "?csm=maria", key=read_key).json()
    assert by_csm["count"] == 3 and {t["csm"] for t in by_csm["results"]} == {"maria"}
    bad = api("get", URL + "?plan=gold", key=read_key)
    assert bad.status_code == 400 and "plan" in bad.json()["errors"]


def test_tenant_bound_key_sees_only_its_tenant(api, make_key, tenant_a, tenant_b):
    key_b = make_key(ApiKey.Scope.READ, tenant=tenant_b)

    listed = api("get", URL, key=key_b).json()
    assert [t["external_id"] for t in listed["results"]] == ["globex"]
    assert api("get", f"{URL}globex/", key=key_b).status_code == 200
    other = api("get", f"{URL}acme/", key=key_b)
    missing = api("get", f"{URL}no-such/", key=key_b)
    assert other.status_code == missing.status_code == 404
    # The same answer as for a tenant that does not exist: nothing reveals that acme does.
    assert other.json()["error"].replace("acme", "X") == missing.json()["error"].replace("no-such", "X")
    assert api("get", f"{URL}acme/timeline/", key=key_b).status_code == 404


def test_timeline_is_newest_first(api, read_key, admin_key):
    api("post", URL, key=admin_key, json=valid_body(signed_up_at="2026-10-01T08:00:00Z"))
    tenant = Tenant.objects.get()
    TimelineEntry.objects.create(tenant=tenant, at=datetime(2026, 10, 5, tzinfo=UTC), kind="note", summary="Kickoff")

    timeline = api("get", f"{URL}cg-1001/timeline/", key=read_key).json()

    assert [e["kind"] for e in timeline] == ["note", "tenant.created"]
    assert set(timeline[0]) == {"at", "kind", "summary", "data"}


def test_openapi_schema_and_docs_are_served_without_a_key(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/tenants/{external_id}/timeline/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()  # Swagger UI comes from the sidecar package


def test_the_list_costs_the_same_queries_for_5_or_50_tenants(api, read_key, django_assert_max_num_queries):
    from onboarding.services import onboarding_start

    for tenant in TenantFactory.create_batch(50):
        onboarding_start(tenant=tenant)
    # key lookup, count, page of tenants, onboarding: onboardings, milestone totals, progress;
    # subscriptions of the page
    with django_assert_max_num_queries(8):
        response = api("get", URL, key=read_key)
    results = response.json()["results"]
    assert len(results) == 50
    assert results[0]["onboarding"] == {
        "completed": 0,
        "total": 5,
        "percent": 0,
        "stalled_since": None,
        "completed_at": None,
    }
