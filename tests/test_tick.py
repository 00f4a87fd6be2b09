from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from core import ticks
from core.models import JobHeartbeat
from health.models import HealthScore
from tenants.models import AuditLog, Tenant, TimelineEntry

from .factories import TenantFactory

pytestmark = pytest.mark.django_db
SIGNUP = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def world_state() -> dict:
    """Everything a job could change, as comparable data."""
    return {
        "tenants": list(
            Tenant.objects.order_by("id").values_list(
                "id", "lifecycle_stage", "updated_at", "health_score", "health_bucket", "health_computed_at"
            )
        ),
        "scores": list(HealthScore.all_tenants.order_by("id").values_list("id", "score", "computed_at")),
        "timeline": list(TimelineEntry.all_tenants.order_by("id").values_list("id", "kind", "at")),
        "audit": AuditLog.objects.count(),
    }


def run_tick(at: str) -> str:
    out = StringIO()
    call_command("tick", "--at", at, stdout=out)
    return out.getvalue()


def test_tick_twice_for_the_same_moment_changes_nothing_the_second_time():
    TenantFactory.create_batch(3, signed_up_at=SIGNUP)
    TenantFactory(signed_up_at=SIGNUP + timedelta(days=20))
    before = world_state()

    first = run_tick("2026-11-05T09:00:00+00:00")
    after_first = world_state()
    second = run_tick("2026-11-05T09:00:00+00:00")

    assert after_first != before  # the first tick did real work...
    assert "3 tenant(s) moved" in first
    assert world_state() == after_first  # ...the second, for the same moment, none
    assert "0 tenant(s) moved" in second


def test_onboarding_window_closes_30_days_after_signup_and_lands_on_the_timeline():
    tenant = TenantFactory(signed_up_at=SIGNUP)

    run_tick("2026-10-31T08:59:00+00:00")
    tenant.refresh_from_db()
    assert tenant.lifecycle_stage == Tenant.LifecycleStage.ONBOARDING

    run_tick("2026-10-31T09:00:00+00:00")
    tenant.refresh_from_db()
    assert tenant.lifecycle_stage == Tenant.LifecycleStage.ADOPTION
    entry = TimelineEntry.objects.for_tenant(tenant).get(kind="tenant.lifecycle_changed")
    assert entry.at == datetime(2026, 10, 31, 9, 0, tzinfo=UTC)
    assert entry.data == {"from": "onboarding", "to": "adoption"}


def test_tick_prints_one_line_per_job_and_records_heartbeats():
    with time_machine.travel(datetime(2026, 11, 22, 10, 0, 30, tzinfo=UTC), tick=False):
        output = run_tick("2026-11-22T10:00:00Z")

    lines = output.strip().splitlines()
    assert len(lines) == len(ticks.registered_jobs())
    assert lines[0].startswith("tenants.lifecycle: ")
    tick_heartbeat = JobHeartbeat.objects.get(name="tick")
    assert tick_heartbeat.last_now == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert tick_heartbeat.last_finished_at == datetime(2026, 11, 22, 10, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "message"), [("next tuesday", "not an ISO 8601"), ("2026-11-22T10:00:00", "no UTC offset")]
)
def test_bad_at_is_a_clear_error(value, message):
    with pytest.raises(CommandError, match=message):
        run_tick(value)


def test_a_failing_job_does_not_stop_the_others(monkeypatch):
    calls = []

    def broken(now):
        raise RuntimeError("provider down")

    def healthy(now):
        calls.append(now)
        return "fine"

    monkeypatch.setattr(ticks, "_registry", {})
    ticks.register("a.broken", order=1)(broken)
    ticks.register("b.healthy", order=2)(healthy)

    results = ticks.run_tick(now=SIGNUP)

    assert [(r.name, r.ok) for r in results] == [("a.broken", False), ("b.healthy", True)]
    assert calls == [SIGNUP]
    assert "provider down" in JobHeartbeat.objects.get(name="a.broken").last_error
    assert JobHeartbeat.objects.get(name="tick").last_error == "a.broken"
    with pytest.raises(CommandError, match="some tick jobs failed"):
        call_command("tick", "--at", "2026-10-01T09:00:00Z", stdout=StringIO())


def test_registering_two_functions_under_one_name_is_refused(monkeypatch):
    monkeypatch.setattr(ticks, "_registry", {})
    ticks.register("x")(lambda now: "one")
    with pytest.raises(ValueError, match="registered twice"):
        ticks.register("x")(lambda now: "two")


def test_the_architecture_page_lists_the_ticks_jobs_in_their_order():
    """docs/architecture.md is where a newcomer learns what the tick does: its table of jobs is
    the registry, row for row, so a new or reordered job without its line fails here."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "architecture.md").read_text()
    rows = [
        (int(cells[1]), cells[2].strip("`"))
        for line in text.splitlines()
        if line.startswith("| ") and len(cells := [c.strip() for c in line.split("|")]) > 3 and cells[1].isdigit()
    ]
    assert rows == [(job.order, job.name) for job in ticks.registered_jobs()]
