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

from core.models import JobHeartbeat
from core.ticks import heartbeats
from core.webhooks import webhook_totals
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


def _webhooks(
    *, name: str, label: str, provider: str, configured: bool, setting: str, stale_after: float | None, now: datetime
) -> Check:
    """One provider's webhooks: the newest one accepted, and the last 24 h's refusals
    (a wrong signing secret, or a proxy that changes the URL the signature covers) and
    failures (our 500s, which the provider retries)."""
    threshold = (
        "degraded from 3 refused (5 % of the last 24 h) or 1 failed; down when every one of 10 or more was refused"
    )
    if stale_after:
        threshold = f"degraded when none in {_age(stale_after)}; " + threshold
    if not configured:
        return Check(name, label, OK, "not configured", threshold, f"{setting} is not set.")
    tally = webhook_totals(provider=provider, now=now)
    accepted, rejected, failed = tally["accepted"], tally["rejected"], tally["failed"]
    latest = tally["last_accepted_at"]
    counts = f"{accepted:,} accepted, {rejected:,} refused, {failed:,} failed in 24 h"
    value = f"last {_age((now - latest).total_seconds())} ago" if latest else "none yet"
    refusing = rejected >= 3 and rejected >= 0.05 * (accepted + rejected)
    stale = bool(stale_after) and (latest is None or (now - latest).total_seconds() > stale_after)
    status = DOWN if rejected >= 10 and not accepted else DEGRADED if failed or refusing or stale else OK
    detail = counts
    if rejected:
        detail += " — refused ones had a bad signature or body: check the signing secret and the public URL."
    return Check(name, label, status, value, threshold, detail)


def _stripe(now: datetime) -> Check:
    return _webhooks(
        name="stripe_webhooks",
        label="Stripe webhooks",
        provider="stripe",
        configured=bool(settings.STRIPE_SECRET_KEY),
        setting="STRIPE_SECRET_KEY",
        stale_after=3 * 86400,  # Stripe sends invoices and renewals: days of nothing means a broken endpoint
        now=now,
    )


def _twilio(now: datetime) -> Check:
    return _webhooks(
        name="twilio_webhooks",
        label="Twilio webhooks",
        provider="twilio",
        configured=bool(settings.TWILIO_AUTH_TOKEN),
        setting="TWILIO_AUTH_TOKEN",
        stale_after=None,  # receipts follow our own sends: a quiet week without SMS is not a fault
        now=now,
    )


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
    checks = [_tick(now, tick), _queue(), *_outbox(now), _stripe(now), _twilio(now), _ingest(now)]
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
