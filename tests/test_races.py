"""Races that only a real PostgreSQL can show: two ticks, or two API calls, at once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tenants.models import Tenant, TimelineEntry
from tenants.services import TenantAlreadyExists, tenant_create, tenants_close_onboarding_windows

from .factories import TenantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_concurrently(target, count: int = 2) -> list:
    barrier = threading.Barrier(count)
    results: list = []

    def worker():
        barrier.wait()
        try:
            results.append(target())
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_ticks_at_once_move_each_tenant_exactly_once():
    now = timezone.now()
    TenantFactory.create_batch(120, signed_up_at=now - timedelta(days=40))

    moved = run_concurrently(lambda: tenants_close_onboarding_windows(now=now, batch_size=10))

    assert sum(moved) == 120, moved
    assert not Tenant.objects.filter(lifecycle_stage=Tenant.LifecycleStage.ONBOARDING).exists()
    assert TimelineEntry.all_tenants.filter(kind="tenant.lifecycle_changed").count() == 120


def create_tenant_now(*, external_id: str, name: str) -> Tenant:
    now = timezone.now()
    return tenant_create(
        external_id=external_id,
        name=name,
        owner_email="owner@race.example",
        plan="starter",
        signed_up_at=now,
        now=now,
        actor=None,
    )


def test_two_creates_of_one_external_id_give_one_tenant_and_one_clear_conflict():
    results = run_concurrently(lambda: create_tenant_now(external_id="race-1", name="Race Co"))

    assert Tenant.objects.filter(external_id="race-1").count() == 1
    assert sum(isinstance(r, Tenant) for r in results) == 1
    assert sum(isinstance(r, TenantAlreadyExists) for r in results) == 1, results
    assert TimelineEntry.all_tenants.filter(kind="tenant.created").count() == 1


def test_two_tenants_of_one_name_created_at_once_both_get_in_with_distinct_slugs():
    ids = iter(["same-name-1", "same-name-2"])
    lock = threading.Lock()

    def create():
        with lock:
            external_id = next(ids)
        return create_tenant_now(external_id=external_id, name="Summit Plumbing")

    results = run_concurrently(create)

    assert all(isinstance(r, Tenant) for r in results), results
    assert len(set(Tenant.objects.values_list("slug", flat=True))) == 2
