from __future__ import annotations

from datetime import datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.html import format_html
from django.utils.safestring import SafeString

from billing.models import Subscription
from billing.plans import money as money_text
from billing.selectors import subscription_stripe_status

register = template.Library()


@register.filter
def money(cents: int | None, currency: str = "usd") -> str:
    """Cents as an amount: 4900 → “$49.00”."""
    if cents is None:
        return ""
    return money_text(int(cents), currency or "usd")


@register.simple_tag
def stripe_status(subscription: Subscription, now: datetime) -> SafeString:
    """“Active (per Stripe, last update 3 Nov 2026) — period ended 1 Nov 2026”: never a bare
    status, since the mirror only knows what Stripe's last event said."""
    state = subscription_stripe_status(subscription, now=now)
    html = format_html(
        '<span class="badge status-{}">{}</span> '
        '<small class="muted stripe-as-of">(per Stripe, last update {})</small>',
        state.status,
        state.label,
        date_filter(state.as_of, "j M Y"),
    )
    if state.period_ended_at:
        html += format_html(
            ' <small class="warn period-ended">— period ended {}</small>', date_filter(state.period_ended_at, "j M Y")
        )
    return html
