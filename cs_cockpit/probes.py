"""/healthz (the process answers; no I/O) and /readyz (database, broker, recent tick)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.ticks import tick_last_finished_at

from .celery import app as celery_app


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"database unreachable: {exc.__class__.__name__}: {exc}"
    return None


def _check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"broker unreachable: {exc.__class__.__name__}: {exc}"
    return None


def _check_tick() -> str | None:
    finished_at = tick_last_finished_at()
    if finished_at is None:
        return "no tick has finished yet: is Celery beat (or the tick cron) running?"
    age = timezone.now() - finished_at
    if age > timedelta(seconds=settings.TICK_MAX_AGE_SECONDS):
        return f"last tick finished {int(age.total_seconds())} s ago (limit {settings.TICK_MAX_AGE_SECONDS} s)"
    return None


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    database = _check_database()
    checks = {
        "database": database,
        "broker": _check_broker(),
        # Without a database the tick cannot be read; report that rather than a second error.
        "tick": "database unreachable" if database else _check_tick(),
    }
    failed = {name: problem for name, problem in checks.items() if problem}
    body = {
        "status": "fail" if failed else "ok",
        "checks": {name: problem or "ok" for name, problem in checks.items()},
    }
    return JsonResponse(body, status=503 if failed else 200)
