"""POST /api/v1/events/ as CONTRACTS.md says: all or nothing, idempotent, per-index errors."""

import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from health.models import DailyEventUser, DailyRollup, Event
from tenants.models import ApiKey, Tenant

pytestmark = pytest.mark.django_db
URL = "/api/v1/events/"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ingest_key(make_key) -> str:
    return make_key(ApiKey.Scope.INGEST, name="backend")


def event(**overrides):
    return {
        "tenant": "acme",
        "name": "feature.used",
        "occurred_at": "2026-11-22T09:30:00Z",
        "user_id": "u-1",
        **overrides,
    }


def post(api, key, events, **extra):
    return api("post", URL, key=key, json={"events": events}, **extra)


def stored_nothing() -> bool:
    return not Event.all_tenants.exists() and not DailyRollup.all_tenants.exists()


def test_a_batch_is_stored_with_its_daily_rollups_and_freshness(api, ingest_key, tenant_a):
    response = post(
        api,
        ingest_key,
        [
            event(user_id="u-1"),
            event(user_id="u-2"),
            event(user_id="u-1"),
            event(name="nps.submitted", properties={"score": 9}),
            event(name="nps.submitted", properties={"score": 6}, occurred_at="2026-11-21T23:59:00-01:00"),
        ],
    )

    assert response.status_code == 202
    assert response.json() == {"accepted": 5, "duplicates": 0}
    rollups = {(r.day, r.name): r for r in DailyRollup.objects.for_tenant(tenant_a)}
    feature = rollups[(date(2026, 11, 22), "feature.used")]
    assert (feature.count, feature.distinct_users) == (3, 2)
    # 23:59 at -01:00 is 00:59 UTC on the 22nd: rollups are per UTC day.
    nps = rollups[(date(2026, 11, 22), "nps.submitted")]
    assert (nps.count, nps.value_sum, nps.value_count) == (2, 15.0, 2)
    tenant_a.refresh_from_db()
    assert tenant_a.last_seen_at == datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    assert tenant_a.data_as_of == NOW


def test_distinct_users_count_across_batches(api, ingest_key, tenant_a):
    post(api, ingest_key, [event(user_id="u-1")])
    post(api, ingest_key, [event(user_id="u-1"), event(user_id="u-2")])

    rollup = DailyRollup.objects.for_tenant(tenant_a).get()
    assert (rollup.count, rollup.distinct_users) == (3, 2)
    assert DailyEventUser.objects.for_tenant(tenant_a).count() == 2


def test_a_repeated_idempotency_key_is_a_duplicate_not_an_error(api, ingest_key, tenant_a):
    batch = [event(idempotency_key="evt-1"), event(idempotency_key="evt-2"), event(idempotency_key="evt-1")]

    first = post(api, ingest_key, batch)
    retry = post(api, ingest_key, batch)  # the client retries the whole batch after a timeout

    assert first.json() == {"accepted": 2, "duplicates": 1}
    assert retry.status_code == 202 and retry.json() == {"accepted": 0, "duplicates": 3}
    assert Event.objects.for_tenant(tenant_a).count() == 2
    assert DailyRollup.objects.for_tenant(tenant_a).get().count == 2  # rollups count stored events only


def test_the_same_key_for_two_tenants_is_two_events(api, ingest_key, tenant_a, tenant_b):
    response = post(api, ingest_key, [event(idempotency_key="k"), event(tenant="globex", idempotency_key="k")])
    assert response.json() == {"accepted": 2, "duplicates": 0}


@pytest.mark.parametrize(
    ("bad", "field", "fragment"),
    [
        ({"tenant": "no-such"}, "tenant", "Unknown tenant"),
        ({"tenant": None}, "tenant", "Required"),
        ({"name": "Feature Used"}, "name", "^[a-z]"),
        ({"name": "x" * 65}, "name", "^[a-z]"),
        ({"name": 7}, "name", "^[a-z]"),
        ({"occurred_at": "yesterday"}, "occurred_at", "not an ISO 8601"),
        ({"occurred_at": "2026-11-22T09:30:00"}, "occurred_at", "UTC offset"),
        ({"occurred_at": "2026-11-22T12:06:00Z"}, "occurred_at", "5 minutes in the future"),
        ({"occurred_at": 1700000000}, "occurred_at", "ISO 8601"),
        ({"user_id": ["u"]}, "user_id", "string or integer"),
        ({"user_id": True}, "user_id", "string or integer"),
        ({"properties": ["a"]}, "properties", "JSON object"),
        ({"properties": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}, "properties", "deeper than 5"),
        ({"properties": {"note": "nul\u0000byte"}}, "properties", "NUL"),
        ({"idempotency_key": ""}, "idempotency_key", "1 to 128"),
        ({"idempotency_key": 5}, "idempotency_key", "1 to 128"),
        ({"occured_at": "typo"}, "occured_at", "Unknown field"),
        ({"occurred_at": "0001-01-01T00:00:00+05:00"}, "occurred_at", "out of range"),
        ({"name": "nps.submitted", "properties": {"score": 10**400}}, "properties.score", "from 0 to 10"),
        ({"name": "csat.submitted", "properties": {"score": "great"}}, "properties.score", "from 1 to 5"),
        ({"user_id": "lone\ud800surrogate"}, "user_id", "string or integer"),
        ({"properties": {"k": "lone\ud800"}}, "properties", "lone surrogate"),
        ({"tenant": "acme\u0000"}, "tenant", "Required"),
    ],
)
def test_one_bad_event_fails_the_whole_batch_naming_index_and_field(api, ingest_key, tenant_a, bad, field, fragment):
    response = post(api, ingest_key, [event(), event(), event(**bad)])

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(2, field)], errors
    assert fragment in errors[0]["message"]
    assert stored_nothing()


def test_every_bad_event_is_reported(api, ingest_key, tenant_a):
    response = post(api, ingest_key, [event(name="BAD"), event(), "not an object", event(tenant="ghost")])
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "name"), (2, "event"), (3, "tenant")]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ('["events"]', '{"events": [...]}'),
        ('{"events": {"name": "x"}}', '{"events": [...]}'),
        ('{"events": []}', "empty"),
    ],
)
def test_a_malformed_body_is_400(client, ingest_key, tenant_a, body, fragment):
    response = client.post(
        URL, data=body, content_type="application/json", headers={"Authorization": f"Bearer {ingest_key}"}
    )
    assert response.status_code == 400
    assert fragment in response.json()["errors"][0]["message"]
    assert response.json()["errors"][0]["index"] is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"events": [{"name": "x", "properties": {"v": NaN}}]}', "NaN is not a JSON number"),
        ('{"events": ' + "[" * 200_000 + "]" * 200_000 + "}", "nested too deeply"),
    ],
)
def test_json_that_postgresql_cannot_store_is_400(client, ingest_key, tenant_a, body, fragment):
    response = client.post(
        URL, data=body, content_type="application/json", headers={"Authorization": f"Bearer {ingest_key}"}
    )
    assert response.status_code == 400
    assert fragment in response.json()["errors"][0]["message"]


def test_the_text_backslash_u0000_is_just_text(api, ingest_key, tenant_a):
    response = post(api, ingest_key, [event(properties={"note": "escape \\u0000 in docs"})])
    assert response.status_code == 202


def test_more_than_1000_events_is_413(api, ingest_key, tenant_a):
    response = post(api, ingest_key, [event()] * 1001)
    assert response.status_code == 413
    assert "at most 1000" in response.json()["errors"][0]["message"]
    assert stored_nothing()


def test_1000_events_is_fine(api, ingest_key, tenant_a):
    response = post(api, ingest_key, [event(idempotency_key=f"k{i}") for i in range(1000)])
    assert response.json() == {"accepted": 1000, "duplicates": 0}


def test_a_body_over_1_mb_is_413(client, ingest_key, tenant_a):
    body = json.dumps({"events": [event(properties={"blob": "x" * 1_000_001})]})
    response = client.post(
        URL, data=body, content_type="application/json", headers={"Authorization": f"Bearer {ingest_key}"}
    )
    assert response.status_code == 413
    assert stored_nothing()


def test_a_tenant_bound_key_posts_only_for_its_tenant(api, make_key, tenant_a, tenant_b):
    key_a = make_key(ApiKey.Scope.INGEST, tenant=tenant_a)

    ok = post(api, key_a, [{"name": "feature.used", "occurred_at": "2026-11-22T09:00:00Z"}])  # tenant implied
    assert ok.status_code == 202
    refused = post(api, key_a, [event(), event(tenant="globex")])
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"index": 1, "field": "tenant", "message": "This API key may only post events for acme."}
    ]
    assert not Event.objects.for_tenant(tenant_b).exists()
    assert Event.objects.for_tenant(tenant_a).count() == 1


def test_keys_without_the_ingest_scope_are_refused(api, make_key, read_key, admin_key, tenant_a):
    assert post(api, read_key, [event()]).status_code == 403
    assert post(api, admin_key, [event()]).status_code == 403
    assert post(api, None, [event()]).status_code == 401
    assert stored_nothing()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_failure_mid_batch_is_503_and_leaves_nothing(api, ingest_key, tenant_a):
    # A real error from PostgreSQL after the events are inserted, while the rollups are written.
    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE FUNCTION fail_rollups() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'disk full' USING ERRCODE = '53100'; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER fail_rollups BEFORE INSERT ON health_dailyrollup
            FOR EACH ROW EXECUTE FUNCTION fail_rollups();
        """)
    try:
        failed = post(api, ingest_key, [event(idempotency_key="a"), event(idempotency_key="b")])
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER fail_rollups ON health_dailyrollup; DROP FUNCTION fail_rollups();")

    assert failed.status_code == 503
    assert "Retry the same batch" in failed.json()["error"]
    assert stored_nothing()
    retried = post(api, ingest_key, [event(idempotency_key="a"), event(idempotency_key="b")])
    assert retried.json() == {"accepted": 2, "duplicates": 0}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_batch_twice_at_once_is_stored_once(api, ingest_key, tenant_a):
    from django.test import Client

    batch = {"events": [event(idempotency_key=f"k{i}", user_id=f"u{i % 7}") for i in range(300)]}
    results = []
    barrier = threading.Barrier(2)

    def send():
        barrier.wait()
        response = Client().post(
            URL, data=batch, content_type="application/json", headers={"Authorization": f"Bearer {ingest_key}"}
        )
        results.append(response.json())
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(r["accepted"] for r in results) == [0, 300], results
    assert Event.objects.for_tenant(tenant_a).count() == 300
    rollup = DailyRollup.objects.for_tenant(tenant_a).get()
    assert (rollup.count, rollup.distinct_users) == (300, 7)


def test_events_far_in_the_past_are_accepted_into_their_day(api, ingest_key, tenant_a):
    response = post(api, ingest_key, [event(occurred_at=(NOW - timedelta(days=40)).isoformat())])
    assert response.status_code == 202
    assert DailyRollup.objects.for_tenant(tenant_a).get().day == date(2026, 10, 13)
    assert Tenant.objects.get(pk=tenant_a.pk).last_seen_at == NOW - timedelta(days=40)


def test_a_late_event_does_not_move_last_seen_back(api, ingest_key, tenant_a, tenant_b):
    post(api, ingest_key, [event(occurred_at="2026-11-22T10:00:00Z")])
    post(api, ingest_key, [event(occurred_at="2026-11-20T10:00:00Z"), event(tenant="globex")])

    tenant_a.refresh_from_db()
    tenant_b.refresh_from_db()
    assert tenant_a.last_seen_at == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert tenant_b.last_seen_at == datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    assert tenant_a.data_as_of == tenant_b.data_as_of == NOW
