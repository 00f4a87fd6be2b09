"""Dry-run speed: `simulate()` of onboarding-30 over every non-churned demo tenant for 30
days, and the `simulate_playbook` command around it, on freshly seeded demo data (150
tenants, signups over 60 days). The issue's target is an absolute one — under 10 s on
PostgreSQL — so the figures are seconds, and seconds per tenant. A dry run writes nothing and
sends nothing: the rows it could touch are counted before and after, and the outboxes checked.

    make bench            (or: .venv/bin/python bench/simulate.py)
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

from common import BENCH_DATABASE_URL, best_of, line, setup_django, summary, timed

# Before Django reads its settings: anything sent by mistake would land in memory, counted below.
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
os.environ["SMS_BACKEND"] = "locmem"

SLUG = "onboarding-30"
DAYS = 30
TENANTS = int(os.environ.get("BENCH_SIMULATE_TENANTS", "150"))
SIMULATE_URL = BENCH_DATABASE_URL + "_simulate"


def drop_database(url: str) -> None:
    """A fresh database every run: seed_demo keeps tenants (and their owner users) that exist,
    and the dry run's answers depend on how long ago they signed up."""
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def row_counts() -> dict[str, int]:
    from django.db.models import Max

    from messaging.models import Message, Suppression
    from playbooks.models import Delivery, InAppMessage, Playbook, PlaybookVersion, Run, Task
    from tenants.models import AuditLog, Tenant, TimelineEntry

    models = (
        Delivery,
        Message,
        Run,
        Task,
        InAppMessage,
        TimelineEntry,
        AuditLog,
        Suppression,
        Playbook,
        PlaybookVersion,
    )
    counts = {model.__name__: model._default_manager.count() for model in models}
    # A write to a tenant row itself would move its updated_at.
    latest = Tenant.objects.aggregate(latest=Max("updated_at"))["latest"]
    counts["Tenant.updated_at"] = int(latest.timestamp() * 1_000_000) if latest else 0
    return counts


def main() -> None:
    drop_database(SIMULATE_URL)
    setup_django(SIMULATE_URL)
    from django.core import mail
    from django.core.management import call_command

    from messaging import sms
    from playbooks.models import Playbook
    from playbooks.simulation import simulate
    from tenants.models import Tenant

    seed_out = io.StringIO()
    seeding = timed(lambda: call_command("seed_demo", tenants=TENANTS, days=60, stdout=seed_out))
    line(f"set-up: seed_demo, {TENANTS} tenants × 60 days (not a figure)", f"{seeding:.1f} s", "")

    playbook = Playbook.objects.select_related("current").get(slug=SLUG)
    tenants = list(
        Tenant.objects.exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .select_related("csm_owner")
        .order_by("name")
    )
    now = datetime.now(UTC).replace(microsecond=0)
    mail.outbox = []
    sms.outbox.clear()
    before = row_counts()

    def dry_run() -> object:
        return simulate(playbook=playbook, tenants=tenants, days=DAYS, now=now)

    result = dry_run()  # also the warm-up
    best = best_of(dry_run)
    count = len(tenants)
    line(
        f"dry run {SLUG} over {count} tenants × {DAYS} days",
        f"{best:.2f} s",
        f"{best / count * 1000:.1f} ms/tenant (target < 10 s; simulate(), best of 3)",
    )
    line(
        "  outcome",
        f"{result.enrolled} would start",
        f"send {result.count('send')}, skip {result.count('skip')}, "
        f"defer {result.count('defer')}, fail {result.count('fail')}",
    )

    out = io.StringIO()
    command = timed(lambda: call_command("simulate_playbook", SLUG, "--days", str(DAYS), stdout=out))
    printed = out.getvalue().splitlines()
    line(
        f"  manage.py simulate_playbook {SLUG} --days {DAYS}",
        f"{command:.2f} s",
        f"{command / count * 1000:.1f} ms/tenant, {len(printed):,} lines printed",
    )

    after = row_counts()
    changed = sum(abs(after[k] - before[k]) for k in before)
    sent = len(getattr(mail, "outbox", [])) + len(sms.outbox)
    line("  rows changed", f"{changed}", f"messages sent {sent}")
    if changed or sent:
        for key in before:
            if before[key] != after[key]:
                line(f"  !! {key}", f"{before[key]} -> {after[key]}", "")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
    summary("simulate", target="a 30-day dry run of a playbook over the portfolio in < 10 s")
