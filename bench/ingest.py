"""Ingest speed: events/s through the real HTTP API (gunicorn, 1,000-event batches) beside
raw psycopg COPY of the same rows into the same table, in the same run, at 1k and 10k tenants.

    make bench            (or: .venv/bin/python bench/ingest.py)
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from common import BENCH_DATABASE_URL, ROOT, line, setup_django, summary

BATCH = 1000
BATCHES = int(os.environ.get("BENCH_INGEST_BATCHES", "60"))
CLIENTS = 2
PORT = int(os.environ.get("BENCH_PORT", "8099"))
NAMES = ["call.handled", "appointment.booked", "outreach.sent", "sms.sent", "report.exported", "error.raised"]


def make_tenants(count: int) -> list[str]:
    from tenants.models import Tenant

    existing = Tenant.objects.filter(external_id__startswith="bench-").count()
    now = datetime.now(UTC)
    Tenant.objects.bulk_create(
        [
            Tenant(
                external_id=f"bench-{n:05d}",
                name=f"Bench {n}",
                slug=f"bench-{n:05d}",
                plan="starter",
                signed_up_at=now - timedelta(days=120),
                owner_email=f"o{n}@bench.example",
            )
            for n in range(existing, count)
        ],
        batch_size=2000,
    )
    return [f"bench-{n:05d}" for n in range(count)]


def make_batches(tenants: list[str], seed: int) -> list[dict]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    batches = []
    for b in range(BATCHES):
        # One batch is what one backend flush sends: events of ~50 tenants.
        group = rng.sample(tenants, min(50, len(tenants)))
        batches.append(
            {
                "events": [
                    {
                        "tenant": rng.choice(group),
                        "name": rng.choice(NAMES),
                        "occurred_at": (now - timedelta(minutes=rng.randint(1, 60 * 24 * 3))).isoformat(),
                        "user_id": f"u{rng.randint(1, 40)}",
                        "properties": {"duration_s": rng.randint(5, 600), "source": "bench"},
                        "idempotency_key": f"s{seed}-b{b}-e{i}",
                    }
                    for i in range(BATCH)
                ]
            }
        )
    return batches


def truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE health_event, health_dailyrollup, health_dailyeventuser")


def api_rate(batches: list[dict], key: str) -> float:
    bodies = [json.dumps(b).encode() for b in batches]
    errors: list[str] = []

    def client(mine: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        for body in mine:
            conn.request(
                "POST", "/api/v1/events/", body, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            )
            response = conn.getresponse()
            payload = response.read()
            if response.status != 202:
                errors.append(f"{response.status} {payload[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=client, args=(bodies[i::CLIENTS],)) for i in range(CLIENTS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"ingest failed: {errors[:3]}")
    return len(batches) * BATCH / elapsed


def copy_rate(batches: list[dict]) -> float:
    """The floor: the same rows, already as tuples, streamed with COPY in one transaction."""
    import psycopg

    from tenants.models import Tenant

    ids = dict(Tenant.objects.filter(external_id__startswith="bench-").values_list("external_id", "id"))
    now = datetime.now(UTC)
    rows = [
        (
            ids[e["tenant"]],
            e["name"],
            datetime.fromisoformat(e["occurred_at"]),
            now,
            e["user_id"],
            json.dumps(e["properties"]),
            e["idempotency_key"] + "-copy",
        )
        for b in batches
        for e in b["events"]
    ]
    with psycopg.connect(BENCH_DATABASE_URL) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY health_event (tenant_id, name, occurred_at, received_at, user_id, properties, idempotency_key) "
                "FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return len(rows) / (time.perf_counter() - started)


def start_gunicorn() -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": BENCH_DATABASE_URL,
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        "DATABASE_POOL": "1",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "cs_cockpit.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/healthz")
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def main() -> None:
    setup_django()
    from django.utils import timezone

    from tenants.models import ApiKey
    from tenants.services import api_key_create

    key = api_key_create(
        name="bench ingest", scope=ApiKey.Scope.INGEST, tenant=None, actor=None, now=timezone.now()
    ).plaintext
    server = start_gunicorn()
    try:
        for tenant_count in (1_000, 10_000):
            tenants = make_tenants(tenant_count)
            truncate()
            warmup = make_batches(tenants, seed=tenant_count + 1)[:4]
            api_rate(warmup, key)
            truncate()
            batches = make_batches(tenants, seed=tenant_count)
            api = api_rate(batches, key)
            truncate()
            raw = copy_rate(batches)
            label = f"{tenant_count // 1000}k tenants"
            line(f"ingest {label}: HTTP API, gunicorn x2, {CLIENTS} clients", f"{api:,.0f} events/s")
            line(f"ingest {label}: raw COPY of the same rows", f"{raw:,.0f} events/s", f"ratio {api / raw:.2f}x")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)


if __name__ == "__main__":
    main()
    summary("ingest", target="HTTP API throughput >= 0.5x raw COPY")
