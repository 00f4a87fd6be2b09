from datetime import datetime
from zoneinfo import ZoneInfo

from django import template

register = template.Library()


@register.filter
def local_time(value: datetime | None, tz: str) -> str:
    """A moment in the tenant's own time zone: “Tue 5 Nov 09:00 EST”."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(tz)).strftime("%a %-d %b %H:%M %Z")


@register.filter
def sim_count(simulation: object, action: str) -> int:
    return simulation.count(action)
