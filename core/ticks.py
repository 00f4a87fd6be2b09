"""The tick: one registry of periodic jobs, run all together as of one `now`.

Each app registers its jobs in its `jobs.py` (imported from AppConfig.ready). Beat calls the
`tenants.tasks.tick` task every minute; cron can call `manage.py tick` instead, and
`manage.py tick --at` replays any moment. Jobs must be idempotent: running the tick twice for
the same `now` changes nothing the second time. A failing job is logged and recorded on its
heartbeat; the other jobs still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from .models import JobHeartbeat

logger = logging.getLogger(__name__)

JobFunction = Callable[[datetime], str]


@dataclass(frozen=True)
class Job:
    name: str
    function: JobFunction
    order: int


_registry: dict[str, Job] = {}


def register(name: str, *, order: int = 100) -> Callable[[JobFunction], JobFunction]:
    """Registers `function(now) -> summary line` as a periodic job. Lower `order` runs first."""

    def decorator(function: JobFunction) -> JobFunction:
        existing = _registry.get(name)
        if existing is not None and existing.function is not function:
            raise ValueError(f"Tick job “{name}” is registered twice.")
        _registry[name] = Job(name=name, function=function, order=order)
        return function

    return decorator


def registered_jobs() -> list[Job]:
    return sorted(_registry.values(), key=lambda job: (job.order, job.name))


@dataclass(frozen=True)
class JobResult:
    name: str
    summary: str
    ok: bool


def _heartbeat(name: str, *, now: datetime, started_at: datetime, summary: str, error: str) -> None:
    fields = {
        "last_now": now,
        "last_started_at": started_at,
        "last_finished_at": timezone.now(),
        "last_summary": summary[:500],
        "last_error": error,
    }
    # One UPDATE in the usual case (the row exists after the first tick); update_or_create
    # only for the first one, where it settles a race between two first ticks.
    if not JobHeartbeat.objects.filter(name=name).update(**fields):
        JobHeartbeat.objects.update_or_create(name=name, defaults=fields)


def tick_last_finished_at() -> datetime | None:
    """When the last whole tick finished (its heartbeat, "tick"); None before the first."""
    heartbeat = JobHeartbeat.objects.filter(name="tick").first()
    return heartbeat.last_finished_at if heartbeat else None


def heartbeats() -> tuple[JobHeartbeat | None, list[JobHeartbeat]]:
    """The tick's own heartbeat and each job's, in the order the tick runs them (system status);
    a job no longer registered comes last."""
    rows = list(JobHeartbeat.objects.order_by("name"))
    order = {job.name: job.order for job in registered_jobs()}
    jobs = sorted((r for r in rows if r.name != "tick"), key=lambda r: (order.get(r.name, 10_000), r.name))
    return next((r for r in rows if r.name == "tick"), None), jobs


def run_tick(*, now: datetime) -> list[JobResult]:
    results: list[JobResult] = []
    tick_started = timezone.now()
    for job in registered_jobs():
        started = timezone.now()
        try:
            summary = job.function(now)
            ok, error = True, ""
        except Exception as exc:  # one broken job must not stop the others
            logger.exception("tick job %s failed for now=%s", job.name, now.isoformat())
            summary, ok, error = f"failed: {exc}", False, repr(exc)
        _heartbeat(job.name, now=now, started_at=started, summary=summary, error=error)
        results.append(JobResult(name=job.name, summary=summary, ok=ok))
    failed = [r.name for r in results if not r.ok]
    _heartbeat(
        "tick",
        now=now,
        started_at=tick_started,
        summary=f"{len(results)} jobs, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""),
        error=", ".join(failed),
    )
    return results
