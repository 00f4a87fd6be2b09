"""System status: is the machinery that keeps promises to customers running? One reading,
shown to staff at /admin/customer-success/status/ and to an uptime checker at
GET /api/v1/status/ (CONTRACTS.md). Each check has a value, the thresholds it is judged
by, and a status: ok, degraded (someone should look today) or down (the product is not
keeping its promises now). Every check is one cheap query: none grows with tenants or
events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from billing.selectors import stripe_event_latest_at
from core.models import JobHeartbeat
from core.ticks import heartbeats
from health.selectors import events_received_since, newest_event_received_at
from messaging.selectors import outbox_counts
from playbooks.selectors import deliveries_needing_review

from .celery import app as celery_app

OK, DEGRADED, DOWN = "ok", "degraded", "down"
RANK = {OK: 0, DEGRADED: 1, DOWN: 2}


@dataclass(frozen=True)
class Check:
    name: str
    label: str
    status: str
    value: str
    threshold: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "status": self.status,
            "value": self.value,
            "threshold": self.threshold,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class JobRun:
    name: str
    as_of: datetime
    took: str  # "" when it did not finish
    summary: str
    error: str


@dataclass(frozen=True)
class Reading:
    status: str
    checked_at: datetime
    checks: list[Check]
    jobs: list[JobRun]


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _judge(value: float, degraded_at: float, down_at: float) -> str:
    return DOWN if value >= down_at else DEGRADED if value >= degraded_at else OK


def _tick(now: datetime, beat: JobHeartbeat | None) -> Check:
    limit = settings.TICK_MAX_AGE_SECONDS
    threshold = f"degraded after {_age(limit)}, down after {_age(3 * limit)}"
    if beat is None or beat.last_finished_at is None:
        return Check(
            "tick", "Last tick", DOWN, "never", threshold, "No tick has finished: is Celery beat (or cron) running?"
        )
    lag = (now - beat.last_finished_at).total_seconds()
    detail = f"finished {beat.last_finished_at:%-d %b %H:%M:%S} UTC"
    if beat.last_error:
        detail += f"; a job failed: {beat.last_error[:200]}"
    status = _judge(lag, limit, 3 * limit)
    return Check(
        "tick",
        "Last tick",
        DEGRADED if beat.last_error and status == OK else status,
        f"{_age(lag)} ago",
        threshold,
        detail,
    )


def _queue() -> Check:
    threshold = "degraded from 100 waiting tasks, down from 1,000 or when the broker does not answer"
    try:
        with celery_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            waiting = conn.default_channel.queue_declare(queue="default", passive=True).message_count
    except FileNotFoundError:
        waiting = 0  # the filesystem broker's folder: made by the first task sent
    except Exception as exc:  # the broker is down, or the queue not declared yet
        if "NOT_FOUND" in str(exc) or "no queue" in str(exc).lower():
            waiting = 0
        else:
            return Check("queue", "Task queue", DOWN, "unknown", threshold, f"{exc.__class__.__name__}: {exc}"[:300])
    return Check(
        "queue", "Task queue", _judge(waiting, 100, 1000), f"{waiting} waiting", threshold, "Celery's default queue"
    )


def _outbox(now: datetime) -> list[Check]:
    counts = outbox_counts(since=now - timedelta(hours=24))
    failed, sent = counts["failed"], counts["sent"]
    review = counts["review"] + deliveries_needing_review().count()
    share = failed / (failed + sent) if failed + sent else 0.0
    return [
        Check(
            "outbox_failures",
            "Messages failed (24 h)",
            _judge(share, 0.05, 0.25) if failed >= 5 else OK,
            f"{failed} failed, {sent} sent",
            "degraded from 5 % failed, down from 25 % (with at least 5 failures)",
            "Failures by provider answer are on each message; addresses that bounced are suppressed.",
        ),
        Check(
            "outbox_review",
            "Sends in review",
            DEGRADED if review else OK,
            str(review),
            "degraded from 1: a person must decide whether it went out",
            "Interrupted sends are never resent by themselves.",
        ),
    ]


def _stripe(now: datetime) -> Check:
    threshold = "degraded when none in 3 days while Stripe is configured"
    latest = stripe_event_latest_at()
    if not settings.STRIPE_SECRET_KEY:
        return Check(
            "stripe_webhooks", "Stripe webhooks", OK, "not configured", threshold, "STRIPE_SECRET_KEY is not set."
        )
    if latest is None:
        return Check("stripe_webhooks", "Stripe webhooks", DEGRADED, "none yet", threshold, "No webhook received yet.")
    age = (now - latest).total_seconds()
    status = DEGRADED if age > 3 * 86400 else OK
    return Check("stripe_webhooks", "Stripe webhooks", status, f"last {_age(age)} ago", threshold, "")


def _ingest(now: datetime) -> Check:
    latest = newest_event_received_at()
    threshold = "degraded when nothing arrived for 1 h, down after 6 h"
    if latest is None:
        return Check(
            "ingest", "Event ingest", DEGRADED, "no events yet", threshold, "POST /api/v1/events/ has not been called."
        )
    age = (now - latest).total_seconds()
    last_hour = events_received_since(since=now - timedelta(hours=1))
    value = f"newest {_age(age)} old · {last_hour:,} in the last hour"
    return Check("ingest", "Event ingest", _judge(age, 3600, 6 * 3600), value, threshold, "")


def system_status(*, now: datetime) -> Reading:
    tick, beats = heartbeats()
    checks = [_tick(now, tick), _queue(), *_outbox(now), _stripe(now), _ingest(now)]
    worst = max((c.status for c in checks), key=RANK.__getitem__)
    jobs = [
        JobRun(
            name=b.name,
            as_of=b.last_now,
            took=f"{(b.last_finished_at - b.last_started_at).total_seconds():.2f} s" if b.last_finished_at else "",
            summary=b.last_summary,
            error=b.last_error,
        )
        for b in beats
    ]
    return Reading(status=worst, checked_at=now, checks=checks, jobs=jobs)
