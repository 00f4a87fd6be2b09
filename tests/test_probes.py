from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from core.ticks import run_tick

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_503_naming_the_tick_until_one_ran(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"] == "ok" and body["checks"]["broker"] == "ok"
    assert "no tick has finished yet" in body["checks"]["tick"]


def test_readyz_turns_200_after_a_tick_and_503_when_ticks_stop(client):
    with time_machine.travel(NOW, tick=False):
        run_tick(now=NOW)
        assert client.get("/readyz").status_code == 200
    with time_machine.travel(NOW + timedelta(minutes=4, seconds=59), tick=False):
        assert client.get("/readyz").status_code == 200
    with time_machine.travel(NOW + timedelta(minutes=6), tick=False):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["tick"] == "last tick finished 360 s ago (limit 300 s)"


def test_readyz_names_a_dead_database(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise ConnectionError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database unreachable" in response.json()["checks"]["database"]
