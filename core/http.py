"""What views share: where a form may send the browser back to, and a service's validation
errors shown on the form that called it."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
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


def form_errors_from(form: forms.Form, error: ValidationError) -> None:
    """A service refused the form's data: each message goes on the field it names (on the
    form as a whole when the field is not one of the form's)."""
    for field, problems in error.message_dict.items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)
