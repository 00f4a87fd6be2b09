"""Demo touchpoint history: the real engine replayed once a day over the last month, so the
cockpit shows what onboarding-30 sent, skipped (and why) and what is next for every demo
tenant. Messages go to in-memory outboxes while seeding: nobody is emailed or texted."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core import mail
from django.test.utils import override_settings

from messaging import sms

from .dispatch import deliveries_dispatch_due, deliveries_sweep_stuck
from .scheduling import runs_reconcile

REPLAY_HOUR_UTC = 15  # inside the 09:00–18:00 window from New York to Berlin; Sydney waits a day


def seed_touchpoint_history(*, now: datetime, days: int = 31) -> int:
    """Runs the touchpoint jobs at 15:00 UTC on each of the last `days` days (never within 24 h
    of a due moment, so nothing is stale for lack of a tick). Returns deliveries sent."""
    sent = 0
    in_memory = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend", "OPTIONS": {}}}
    # Nobody is messaged while seeding, so the per-message log lines would only mislead.
    quiet = [logging.getLogger(name) for name in ("messaging.email", "messaging.sms", "playbooks.channels")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.WARNING)
    try:
        with override_settings(MAILERS=in_memory, SMS_BACKEND="locmem"):
            for days_ago in range(days, 0, -1):
                moment = (now - timedelta(days=days_ago)).replace(
                    hour=REPLAY_HOUR_UTC, minute=0, second=0, microsecond=0
                )
                runs_reconcile(now=moment)
                sent += deliveries_dispatch_due(now=moment, limit=100_000).sent
                deliveries_sweep_stuck(now=moment)
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
    mail.outbox = []
    sms.outbox.clear()
    return sent
