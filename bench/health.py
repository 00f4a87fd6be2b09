"""Recompute speed: scoring every tenant from 90 days of rollups, beside the bare SQL
aggregate over the same rows (the floor: no scoring, no writes), at 1k and 10k tenants.

    make bench            (or: .venv/bin/python bench/health.py)
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from common import BENCH_DATABASE_URL, best_of, line, setup_django, summary, timed

DAYS = 90
NAMES = ["call.handled", "appointment.booked", "outreach.sent", "report.exported", "error.raised"]


def build(tenant_count: int, now: datetime) -> int:
    """Tenants and 90 days of rollups, generated inside PostgreSQL (fast and repeatable)."""
    from django.db import connection

    from tenants.models import Tenant

    Tenant.objects.all().delete()  # this database is the health bench's own
    Tenant.objects.bulk_create(
        [
            Tenant(
                external_id=f"hbench-{n:05d}",
                name=f"Health bench {n}",
                slug=f"hbench-{n:05d}",
                plan="starter",
                signed_up_at=now - timedelta(days=120),
                owner_email=f"o{n}@hbench.example",
            )
            for n in range(tenant_count)
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE health_dailyrollup, health_healthscore")
        # setseed: the same history every run. Each tenant has its own activity level, so the
        # scores (and buckets) spread out like a real portfolio.
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            """
            INSERT INTO health_dailyrollup (tenant_id, day, name, count, distinct_users, value_sum, value_count)
            SELECT t.id, d::date, n.name, 1 + (random() * 30)::int, 1 + (random() * 5)::int, 0, 0
            FROM tenants_tenant t
            CROSS JOIN generate_series(%s::date - 89, %s::date, interval '1 day') AS d
            CROSS JOIN unnest(%s::text[]) AS n(name)
            WHERE t.external_id LIKE 'hbench-%%' AND random() < 0.25 + (t.id %% 7) * 0.1
            """,
            [now.date(), now.date(), NAMES],
        )
        cursor.execute("ANALYZE health_dailyrollup")
        cursor.execute("SELECT count(*) FROM health_dailyrollup")
        return cursor.fetchone()[0]


def bare_aggregate(now: datetime) -> None:
    """The same aggregate the scorer runs, for all tenants at once, rows fetched and dropped."""
    from django.db import connection

    from health.models import DailyRollup
    from health.scoring import WINDOW_DAYS, _aggregates, as_of_day

    day = as_of_day(now)
    query = (
        DailyRollup.all_tenants.filter(day__gt=day - timedelta(WINDOW_DAYS), day__lte=day)
        .values("tenant_id")
        .annotate(**_aggregates(day))
        .order_by()
    )
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.fetchall()


def main() -> None:
    setup_django(BENCH_DATABASE_URL + "_health")
    from health.services import health_recompute_all

    now = datetime.now(UTC).replace(microsecond=0)
    sizes = [int(s) for s in os.environ.get("BENCH_HEALTH_TENANTS", "1000,10000").split(",")]
    for tenant_count in sizes:
        rows = build(tenant_count, now)
        bare_aggregate(now)  # warm the cache for both
        bare = best_of(lambda: bare_aggregate(now))
        full = min(timed(lambda: health_recompute_all(now=now)) for _ in range(3))
        label = f"{tenant_count // 1000}k tenants x {DAYS} days ({rows:,} rollup rows)"
        line(f"health {label}: bare SQL aggregate", f"{bare:.2f} s")
        line(f"health {label}: full recompute (score + store)", f"{full:.2f} s", f"ratio {full / bare:.2f}x")


if __name__ == "__main__":
    main()
    summary("health", target="full recompute <= 2x the bare SQL aggregate")
