from django import template

register = template.Library()


@register.filter
def funnel_percent(step, total: int) -> int:
    return step.percent_of(total)


@register.filter
def overdue(item, now) -> bool:
    return item.overdue(now)
