"""How the outboxes retry and when they give up on a send that never finished."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db import connection

SENDING_TIMEOUT = timedelta(minutes=10)  # longer than any provider timeout (SMTP, Twilio: 10 s)
MAX_ATTEMPTS = 5
BACKOFF = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1)]


def retry_at_after(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try before the next one."""
    return BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]


def advisory_locks(namespace: int, ids: Iterable[int]) -> None:
    """Transaction-scoped advisory locks (namespace, id), taken in id order (no deadlock): a
    second transaction asking for one waits for the first's commit. SQLite serialises
    writers anyway."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for key in sorted(set(ids)):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, key])
