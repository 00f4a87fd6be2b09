"""Shared set-up for the benchmarks: a PostgreSQL database of their own (BENCH_DATABASE_URL,
default a `cs_cockpit_bench` database on the local server), created and migrated on demand."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cs_cockpit_bench")


def setup_django(database_url: str = BENCH_DATABASE_URL) -> None:
    # Celery puts the working directory first on sys.path while it loads; from bench/ that
    # would make bench/health.py shadow the health app.
    os.chdir(ROOT)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DATABASE_POOL", "0")
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_cockpit.settings")
    if database_url.startswith("postgres"):
        _create_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _create_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def timed(operation: Callable[[], object]) -> float:
    started = time.perf_counter()
    operation()
    return time.perf_counter() - started


def best_of(operation: Callable[[], object], repeat: int = 3) -> float:
    return min(timed(operation) for _ in range(repeat))


def median_of(samples: list[float]) -> float:
    return statistics.median(samples)


_LINES: list[tuple[str, str, str]] = []


def line(name: str, value: str, ratio: str = "") -> None:
    _LINES.append((name.strip(), value.strip(), ratio.strip()))
    print(f"{name:<58} {value:>18} {ratio}", flush=True)


def summary(bench: str, *, target: str, figures: dict[str, str] | None = None, baseline: str = "") -> None:
    """The benchmark's last line: one JSON object with its figures, its baseline (measured in
    the same run) and its target. Without `figures`, the lines printed with line() are the
    figures and the one marked "(baseline)" is the baseline."""
    import json

    if figures is None:
        figures = {f"{n} [{r}]" if r else n: v for n, v, r in _LINES if "(baseline)" not in r}
        baseline = baseline or next((f"{n}: {v}" for n, v, r in _LINES if "(baseline)" in r), "")
    print(json.dumps({"bench": bench, "figures": figures, "baseline": baseline, "target": target}), flush=True)
