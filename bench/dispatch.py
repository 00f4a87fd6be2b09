"""Dispatch speed and exactly-once: 10,000 due deliveries (2,000 tenants × 5 day-0 steps:
email, SMS, task, in-app, email — the messages transactional, so no send window or throttle
holds any back) sent through the locmem email and SMS backends, by one dispatcher and then by
two in parallel threads on fresh rows, beside a bare loop of the same number of Django locmem
email sends (no database) in the same run. The issue's target is ≥ 1,000 sends/s with 0
duplicates; duplicates are counted from what the outboxes and the task / in-app tables hold,
and a second dispatch of the same rows must send nothing.

    make bench            (or: .venv/bin/python bench/dispatch.py)
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta

from common import BENCH_DATABASE_URL, line, setup_django, summary

# Before Django reads its settings: messages stay in memory (mail.outbox, messaging.sms.outbox).
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
os.environ["SMS_BACKEND"] = "locmem"
# As in production: DEBUG off (no per-query logging in the ORM cursor wrapper).
os.environ.setdefault("DEBUG", "0")

TENANTS = int(os.environ.get("BENCH_DISPATCH_TENANTS", "2000"))
WARMUP_TENANTS = 20
NOW = datetime.now(UTC).replace(microsecond=0)
SLUG = "bench-dispatch"
PLAYBOOK = """
slug: bench-dispatch
name: Dispatch bench
trigger: manual
steps:
  - key: welcome-email
    day: 0
    channel: email
    transactional: true
    transactional_reason: the welcome carries the login link
    subject: "Welcome to CloudGreet, {{ owner_first_name }}"
    body: |
      Hi {{ owner_first_name }},

      Your account for {{ tenant_name }} is ready: {{ onboarding_url }}
  - key: welcome-sms
    day: 0
    channel: sms
    transactional: true
    transactional_reason: the welcome carries the login link
    body: "CloudGreet: welcome, {{ owner_first_name }}! Finish setting up {{ tenant_name }}. Reply STOP to stop."
  - key: kickoff-task
    day: 0
    channel: task
    owner_role: csm
    title: "Kick-off call with {{ tenant_name }}"
    body: "Owner: {{ owner_name }} ({{ owner_email }})."
  - key: welcome-in-app
    day: 0
    channel: in_app
    title: "Welcome, {{ owner_first_name }}"
    body: "Finish setting up {{ tenant_name }} in about ten minutes."
  - key: receipt-email
    day: 0
    channel: email
    transactional: true
    transactional_reason: it carries the login link
    subject: "Your CloudGreet account details for {{ tenant_name }}"
    body: |
      Hi {{ owner_first_name }},

      Log in here: {{ login_url }}
"""


def bench_playbook(now: datetime):
    from playbooks.definitions import parse
    from playbooks.library import playbook_version_save

    # Idempotent: the same definition stays the current version between runs.
    return playbook_version_save(definition=parse(PLAYBOOK, source="bench"), source="bench", now=now, actor=None)


def reset() -> None:
    """Every tenant (and, by cascade, runs, deliveries, tasks, in-app messages, timeline and
    audit rows) and both outboxes: this database is the dispatch bench's own."""
    from django.core import mail
    from django.db import connection

    from messaging import sms

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tenants_tenant CASCADE")
    mail.outbox = []
    sms.outbox.clear()


def build(tenant_count: int, now: datetime, *, prefix: str = "dbench") -> int:
    """Tenants with a phone and SMS consent, one run each and a delivery per step, all due."""
    from django.db import connection

    from playbooks.models import Delivery, Playbook, Run, Trigger
    from tenants.models import Tenant

    reset()
    playbook = Playbook.objects.select_related("current").get(slug=SLUG)
    version = playbook.current
    steps = list(version.steps.order_by("position"))
    tenants = Tenant.objects.bulk_create(
        [
            Tenant(
                external_id=f"{prefix}-{n:05d}",
                name=f"Dispatch bench {n}",
                slug=f"{prefix}-{n:05d}",
                plan="starter",
                timezone="UTC",
                signed_up_at=now - timedelta(hours=1),
                owner_name=f"Owner {n}",
                owner_email=f"o{n}@dbench.example",
                owner_phone=f"+1415555{n:04d}",
                sms_consent_at=now - timedelta(hours=1),
            )
            for n in range(tenant_count)
        ],
        batch_size=2000,
    )
    runs = Run.all_tenants.bulk_create(
        [
            Run(
                tenant=tenant,
                playbook=playbook,
                version=version,
                enrolment_key="manual:bench",
                trigger=Trigger.MANUAL,
                anchor=now - timedelta(minutes=1),
                started_at=now - timedelta(minutes=1),
            )
            for tenant in tenants
        ],
        batch_size=2000,
    )
    due = now - timedelta(minutes=1)
    deliveries = Delivery.all_tenants.bulk_create(
        [
            Delivery(
                tenant_id=run.tenant_id,
                run=run,
                step=step,
                nominal_at=due,
                due_at=due,
                status=Delivery.Status.SCHEDULED,
            )
            for run in runs
            for step in steps
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE playbooks_delivery")
    return len(deliveries)


def duplicates() -> tuple[int, int]:
    """(messages and rows produced, how many of them repeat a delivery already produced).

    Each tenant has one run, so an email is one delivery by (recipient, subject) — the two
    email steps have different subjects; an SMS carries its delivery id; tasks and in-app
    messages point at theirs."""
    from django.core import mail

    from messaging import sms
    from playbooks.models import InAppMessage, Task

    emails = [(m.to[0], m.subject) for m in getattr(mail, "outbox", [])]
    texts = [m.delivery_id for m in sms.outbox]
    tasks = list(Task.all_tenants.values_list("delivery_id", flat=True))
    notes = list(InAppMessage.all_tenants.values_list("delivery_id", flat=True))
    produced = len(emails) + len(texts) + len(tasks) + len(notes)
    distinct = len(set(emails)) + len(set(texts)) + len(set(tasks)) + len(set(notes))
    return produced, produced - distinct


def sent_rows() -> int:
    from playbooks.models import Delivery

    return Delivery.all_tenants.filter(status=Delivery.Status.SENT).count()


def bare_send_loop(count: int) -> float:
    """The floor: Django's own locmem email send, `count` times, no database."""
    from django.core import mail
    from django.core.mail import EmailMessage

    mail.outbox = []
    started = time.perf_counter()
    for n in range(count):
        EmailMessage(
            subject=f"Welcome to CloudGreet, Owner {n}",
            body="Hi Owner,\n\nYour account for Dispatch bench is ready: http://localhost:8000/onboarding/",
            to=[f"o{n}@dbench.example"],
        ).send()
    elapsed = time.perf_counter() - started
    mail.outbox = []
    return count / elapsed


def dispatch_parallel(now: datetime, workers: int) -> tuple[float, list]:
    from django.db import connection

    from playbooks.dispatch import deliveries_dispatch_due

    results: list = [None] * workers
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers + 1)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = deliveries_dispatch_due(now=now, limit=20_000)
        except BaseException as exc:  # reported below, after every thread has ended
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"dispatch failed in a worker thread: {errors[0]!r}")
    return elapsed, results


def check(label: str, deliveries: int, sent: int, summary: str) -> bool:
    """Exactly once: every due delivery sent once, one message or row for each, a second
    dispatch sends nothing. Prints what is wrong; True when all holds."""
    from playbooks.dispatch import deliveries_dispatch_due

    again = deliveries_dispatch_due(now=NOW, limit=20_000).sent
    produced, dupes = duplicates()
    marked = sent_rows()
    line("  then a second dispatch of the same rows", f"{again} more sent", f"duplicates {dupes}")
    ok = sent == marked == produced == deliveries and not again and not dupes
    if not ok:
        line(f"  !! {deliveries:,} due, {sent:,} sent, {marked:,} rows SENT, {produced:,} out", "", summary)
    return ok


def rate_line(label: str, sent: int, elapsed: float, bare: float) -> None:
    _, dupes = duplicates()
    rate = sent / elapsed
    line(
        f"{label}: {sent:,} sent in {elapsed:.2f} s",
        f"{rate:,.0f} sends/s",
        f"({rate / bare:.2f}× the bare send loop), duplicates {dupes}",
    )


def main() -> None:
    setup_django(BENCH_DATABASE_URL + "_dispatch")
    from playbooks.dispatch import deliveries_dispatch_due

    bench_playbook(NOW)

    # Warm up: the first sends import modules and fill caches; not timed.
    build(WARMUP_TENANTS, NOW, prefix="dwarm")
    deliveries_dispatch_due(now=NOW, limit=20_000)
    bare_send_loop(200)

    deliveries = build(TENANTS, NOW)
    label = f"dispatch {deliveries / 1000:g}k"
    bare = bare_send_loop(deliveries)
    line(f"bare loop: {deliveries:,} Django locmem email sends, no DB", f"{bare:,.0f} sends/s", "(baseline)")

    started = time.perf_counter()
    result = deliveries_dispatch_due(now=NOW, limit=20_000)
    elapsed = time.perf_counter() - started
    rate_line(label, result.sent, elapsed, bare)
    ok = check(label, deliveries, result.sent, result.summary())

    deliveries = build(TENANTS, NOW)
    elapsed, results = dispatch_parallel(NOW, workers=2)
    sent = sum(r.sent for r in results)
    rate_line(f"{label}, 2 dispatchers", sent, elapsed, bare)
    line("  split between the two dispatchers", " + ".join(f"{r.sent:,}" for r in results), "")
    ok = check(f"{label}, 2 dispatchers", deliveries, sent, " / ".join(r.summary() for r in results)) and ok
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
    summary("dispatch", target=">= 1,000 touchpoint sends/s")
