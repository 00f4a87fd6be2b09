from __future__ import annotations

from django import template

from billing.plans import money as money_text

register = template.Library()


@register.filter
def money(cents: int | None, currency: str = "usd") -> str:
    """Cents as an amount: 4900 → “$49.00”."""
    if cents is None:
        return ""
    return money_text(int(cents), currency or "usd")
