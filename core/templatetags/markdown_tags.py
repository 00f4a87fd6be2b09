from django import template
from django.utils.safestring import SafeString

from core.markdown import markdown_to_html

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    """`{{ note.body|markdown }}`: Markdown rendered and sanitised (core.markdown)."""
    return markdown_to_html(text or "")
