from datetime import datetime
from zoneinfo import ZoneInfo

from django import template
from django.utils.dateparse import parse_datetime
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from playbooks.templating import split_for_display

register = template.Library()


@register.filter
def local_time(value: datetime | None, tz: str) -> str:
    """A moment in the tenant's own time zone: “Tue 5 Nov 09:00 EST”."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(tz)).strftime("%a %-d %b %H:%M %Z")


@register.filter
def iso_time(value: str | None, tz: str) -> str:
    """A moment stored as ISO 8601 text (in a trace), shown like local_time."""
    moment = parse_datetime(value) if value else None
    return local_time(moment, tz) if moment else (value or "—")


@register.filter
def sim_count(simulation: object, action: str) -> int:
    return simulation.count(action)


@register.filter
def placeholders(text: str) -> SafeString:
    """A message template shown where there is no tenant to render it for (the playbook's
    page): each variable as a labelled chip (“tenant name”), never as {{ braces }}."""
    html = [
        format_html('<span class="var" title="{}">{}</span>', description, piece)
        if description
        else conditional_escape(piece)
        for piece, description in split_for_display(text or "")
    ]
    return mark_safe("".join(html))  # every piece is escaped above
