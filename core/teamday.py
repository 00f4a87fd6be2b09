"""The CS team's day (CS_TEAM_TIMEZONE): "today" on the home, the touchpoint list and the
daily alert budget all start at the team's midnight, not UTC's."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings


def team_day_start(now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(settings.CS_TEAM_TIMEZONE))
    return datetime.combine(local.date(), time(), tzinfo=local.tzinfo)


def team_day_end(now: datetime) -> datetime:
    zone = ZoneInfo(settings.CS_TEAM_TIMEZONE)
    return datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(), tzinfo=zone)
