"""Where a form may send the browser back to."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, *, default: str, default_kwargs: dict | None = None, under: str = "") -> str:
    """The `next` the form carries when it is a path on this site (and, with `under`, below
    that path); else the URL named `default`. Never an open redirect."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if target and allowed and target.startswith(under):
        return target
    return reverse(default, kwargs=default_kwargs)
