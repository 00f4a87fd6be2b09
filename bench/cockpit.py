"""Cockpit pages at 1,000 and 10,000 tenants (issue 15, item 8): per page, the server time of a
request (p50 / p95 over repeated requests through Django's test client, so the figure is the
view, its queries and its template — no network, no browser) and its SQL query count.

The data: tenants on three plans in five segments, 20 CSMs, 90 days of daily health scores and
of usage rollups, 20 timeline entries per tenant, an open alert on about one tenant in twelve,
an open task on one in twenty. Built in bulk (rows generated inside PostgreSQL), first 1,000
tenants, measured, then 9,000 more, measured again. The baseline is /healthz in the same run.
Goal: p95 <= 150 ms at 10,000 tenants for home, tenant list, tenant 360, alert queue and tasks.

    make bench            (or: .venv/bin/python bench/cockpit.py [--sizes 1000,10000] [--requests 30])
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
from datetime import UTC, datetime, timedelta

from common import BENCH_DATABASE_URL, line, setup_django, summary, timed

os.environ.setdefault("DEBUG", "0")  # as in production: no per-query logging
# As in production, pages link hashed static files: collected once into a directory of the bench's.
os.environ.setdefault("STATIC_ROOT", "var/bench-static")
COCKPIT_URL = BENCH_DATABASE_URL + "_cockpit"
DAYS = 90
CSMS = 20
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
GOAL_PAGES = ("home", "tenant list", "tenant 360", "alert queue", "tasks")


def drop_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def staff() -> list:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from core.roles import StaffRole

    User = get_user_model()
    csms = [User.objects.create_user(username=f"csm{n}", first_name="CSM", last_name=str(n)) for n in range(CSMS)]
    Group.objects.get(name=StaffRole.CSM).user_set.add(*csms)
    return csms


def add_tenants(start: int, stop: int, csms: list, rng: random.Random) -> None:
    from django.db import connection

    from alerts.models import Alert, AlertRule, Route
    from onboarding.models import TenantOnboarding
    from onboarding.services import template_for
    from playbooks.models import Task
    from tenants.models import Tenant

    segments = ["", "Dental clinics", "Home services", "Law firms", "Real estate"]
    buckets = [(35, "critical"), (70, "at_risk"), (88, "healthy"), (92, "healthy")]
    tenants = Tenant.objects.bulk_create(
        [
            Tenant(
                external_id=f"bench-{n:05d}",
                name=f"Bench tenant {n:05d}",
                slug=f"bench-{n:05d}",
                plan=Tenant.Plan.values[n % 3],
                segment=segments[n % 5],
                signed_up_at=NOW - timedelta(days=rng.uniform(20, 700)),
                lifecycle_stage=Tenant.LifecycleStage.ADOPTION,
                csm_owner=csms[n % CSMS] if n % 10 else None,
                owner_name=f"Owner {n}",
                owner_email=f"o{n}@bench.example",
                health_score=buckets[n % 4][0] + rng.uniform(-5, 5),
                health_bucket=buckets[n % 4][1],
                health_computed_at=NOW - timedelta(hours=1),
                last_seen_at=NOW - timedelta(hours=rng.randint(1, 48)),
                data_as_of=NOW - timedelta(hours=1),
            )
            for n in range(start, stop)
        ],
        batch_size=2000,
    )
    templates = {k: template_for(plan=k[0], segment=k[1]) for k in {(t.plan, t.segment) for t in tenants}}
    TenantOnboarding.all_tenants.bulk_create(
        [
            TenantOnboarding(
                tenant=t,
                template=templates[t.plan, t.segment],
                started_at=t.signed_up_at,
                completed_at=t.signed_up_at + timedelta(days=9),
                first_value_at=t.signed_up_at + timedelta(days=3),
            )
            for t in tenants
        ],
        batch_size=2000,
    )
    ids = [t.id for t in tenants]
    model_id = connection.cursor().execute("SELECT id FROM health_healthmodel WHERE status = 'published'").fetchone()[0]
    with connection.cursor() as cur:
        # 90 days of scores and of two usage rollups per tenant, and 20 timeline entries each.
        cur.execute(
            """
            INSERT INTO health_healthscore (tenant_id, day, computed_at, score, bucket, model_id, components)
            SELECT t.id, d::date, d + interval '1 hour', s, CASE WHEN s >= 80 THEN 'healthy'
                   WHEN s >= 60 THEN 'at_risk' ELSE 'critical' END, %s, '[]'::jsonb
            FROM tenants_tenant t,
                 generate_series(%s::date - 89, %s::date, interval '1 day') d,
                 LATERAL (SELECT greatest(5, least(99,
                     t.health_score + 8 * sin(extract(doy FROM d) / 9.0 + t.id)))) v(s)
            WHERE t.id = ANY(%s)
            """,
            [model_id, NOW.date(), NOW.date(), ids],
        )
        cur.execute(
            """
            INSERT INTO health_dailyrollup (tenant_id, day, name, count, distinct_users, value_sum, value_count)
            SELECT t.id, d::date, n, (10 + (t.id * 7 + extract(doy FROM d)::int) %% 40), 3, 0, 0
            FROM tenants_tenant t, generate_series(%s::date - 89, %s::date, interval '1 day') d,
                 unnest(ARRAY['call.handled', 'appointment.booked']) n
            WHERE t.id = ANY(%s)
            """,
            [NOW.date(), NOW.date(), ids],
        )
        cur.execute(
            """
            INSERT INTO tenants_timelineentry (tenant_id, at, kind, summary, data, created_at)
            SELECT t.id, %s - (k || ' hours')::interval, 'task.created', 'Bench entry ' || k, '{}'::jsonb, %s
            FROM tenants_tenant t, generate_series(1, 20) k WHERE t.id = ANY(%s)
            """,
            [NOW, NOW, ids],
        )
    rule = AlertRule.objects.get(slug="usage_drop")
    Alert.all_tenants.bulk_create(
        [
            Alert(
                tenant=t,
                rule=rule,
                severity=("P1", "P2", "P3")[i % 3],
                route=Route.CSM,
                assignee=t.csm_owner,
                rationale="Usage is down 45 % week over week",
                opened_at=NOW - timedelta(hours=i % 72),
                sla_due_at=NOW + timedelta(hours=(i % 48) - 12),
            )
            for i, t in enumerate(tenants)
            if i % 12 == 0
        ],
        batch_size=2000,
    )
    Task.all_tenants.bulk_create(
        [
            Task(
                tenant=t,
                title=f"Check in with {t.name}",
                assignee=t.csm_owner,
                role="csm",
                due_at=NOW + timedelta(hours=(i % 96) - 24),
                created_at=NOW - timedelta(days=1),
            )
            for i, t in enumerate(tenants)
            if i % 20 == 0
        ],
        batch_size=2000,
    )


def pages() -> dict[str, str]:
    return {
        "healthz (baseline)": "/healthz",
        "home": "/admin/customer-success/",
        "home, everyone's": "/admin/customer-success/?scope=all",
        "tenant list": "/admin/customer-success/tenants/",
        "tenant list, worst first": "/admin/customer-success/tenants/?sort=health",
        "tenant 360": "/admin/customer-success/tenants/bench-00001/",
        "tenant timeline": "/admin/customer-success/tenants/bench-00001/timeline/",
        "alert queue": "/admin/customer-success/alerts/",
        "tasks": "/admin/customer-success/tasks/?scope=all",
        "touchpoints sent, 7 days": "/admin/customer-success/touchpoints/?outcome=sent&day=7d",
        "knowledge": "/admin/knowledge/",
        "qa": "/admin/qa/",
    }


def measure(size: int, requests: int, csm) -> dict[str, dict[str, float]]:
    import time_machine
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(csm)
    results: dict[str, dict[str, float]] = {}
    with time_machine.travel(NOW, tick=True):
        for name, url in pages().items():
            for _ in range(2):  # warm: template loading, first-query plans
                # secure: with DEBUG off the settings redirect plain HTTP to HTTPS, as in production.
                assert client.get(url, secure=True).status_code == 200, (name, url)
            samples = sorted(timed(lambda url=url: client.get(url, secure=True)) * 1000 for _ in range(requests))
            with CaptureQueriesContext(connection) as ctx:
                client.get(url, secure=True)
            p95 = samples[max(0, round(0.95 * len(samples)) - 1)]
            results[name] = {"p50": statistics.median(samples), "p95": p95, "queries": len(ctx)}
            line(
                f"{size:,} tenants · {name}",
                f"p50 {results[name]['p50']:6.1f} ms  p95 {p95:6.1f} ms",
                f"{len(ctx)} queries",
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    drop_database(COCKPIT_URL)
    setup_django(COCKPIT_URL)
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    rng = random.Random(15)
    csms = staff()
    built = 0
    report: dict[int, dict[str, dict[str, float]]] = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        seconds = timed(lambda size=size, built=built: add_tenants(built, size, csms, rng))
        line(f"build to {size:,} tenants", f"{seconds:.1f} s")
        built = size
        from django.db import connection

        connection.cursor().execute("ANALYZE")
        report[size] = measure(size, args.requests, csms[1])
    largest = max(report)
    summary(
        "cockpit",
        target="p95 <= 150 ms at 10,000 tenants for home, tenant list, tenant 360, alert queue and tasks",
        figures={
            "tenants": str(largest),
            "p95_ms": {p: round(r["p95"], 1) for p, r in report[largest].items()},  # type: ignore[dict-item]
            "p50_ms": {p: round(r["p50"], 1) for p, r in report[largest].items()},  # type: ignore[dict-item]
            "queries": {p: int(r["queries"]) for p, r in report[largest].items()},  # type: ignore[dict-item]
            "p95_ms_smallest": {p: round(r["p95"], 1) for p, r in report[min(report)].items()},  # type: ignore[dict-item]
            "goal_met": all(report[largest][p]["p95"] <= 150 for p in GOAL_PAGES),  # type: ignore[dict-item]
        },
        baseline=f"/healthz p95 {report[largest]['healthz (baseline)']['p95']:.1f} ms",
    )


if __name__ == "__main__":
    main()
