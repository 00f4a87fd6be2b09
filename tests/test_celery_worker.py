"""A real Celery worker, on the configured broker (Redis in CI), runs the tick that beat sends."""

import time
from datetime import timedelta

import pytest
from celery.beat import Scheduler
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from core.models import JobHeartbeat
from cs_cockpit.celery import app
from tenants.models import Tenant, TimelineEntry

from .factories import TenantFactory


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_beat_entry_sent_through_redis_runs_the_tick_on_a_worker():
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    tenant = TenantFactory(signed_up_at=timezone.now() - timedelta(days=45))
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10):
        # Exactly what beat does each minute: look up the schedule entry and apply it.
        scheduler = Scheduler(app=app, lazy=True)
        scheduler.setup_schedule()
        entry = scheduler.schedule["tick-every-minute"]
        scheduler.apply_async(entry, producer=None, advance=False)
        assert wait_for(lambda: JobHeartbeat.objects.filter(name="tick", last_finished_at__isnull=False).exists())

    tenant.refresh_from_db()
    assert tenant.lifecycle_stage == Tenant.LifecycleStage.ADOPTION  # the job really ran
    assert TimelineEntry.objects.for_tenant(tenant).filter(kind="tenant.lifecycle_changed").count() == 1
