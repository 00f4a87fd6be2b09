"""What the customer-facing surveys share (the NPS link of playbooks, the post-resolution
CSAT link of lifecycle): reading a signed link that closes after SURVEY_LINK_MAX_AGE_DAYS,
and the page's flow — a link answered before shows that answer, a POST records one answer or
says what is wrong with it, a happy answer sees the review ask."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def survey_link_read(token: str, *, salt: str) -> dict[str, Any]:
    """The link's payload; a ValidationError a customer can read for a closed (code "expired")
    or forged one."""
    try:
        payload = signing.loads(token, salt=salt, max_age=settings.SURVEY_LINK_MAX_AGE_DAYS * 86400)
    except signing.SignatureExpired:
        raise ValidationError(
            f"This survey has closed: its link was open for {settings.SURVEY_LINK_MAX_AGE_DAYS} days. "
            "Thank you all the same — reply to any email from us to tell us how it went.",
            code="expired",
        ) from None
    except signing.BadSignature:
        raise ValidationError("This survey link is not valid.") from None
    if not isinstance(payload, dict):
        raise ValidationError("This survey link is not valid.")
    return payload


def survey_error_page(request: HttpRequest, template: str, error: ValidationError) -> HttpResponse:
    status = 410 if error.code == "expired" else 400
    return render(request, template, {"error": error.messages[0]}, status=status)


def survey_page(
    request: HttpRequest,
    *,
    template: str,
    context: dict[str, Any],
    answered: int | None,
    submit: Callable[[str, str], bool],
    happy_from: int,
) -> HttpResponse:
    """`submit(score, comment)` records the answer and says whether this one was stored."""
    if answered is not None:
        # One answer per link: a second visit (or a second POST) sees the first answer.
        return render(request, template, context | {"answered": answered})
    if request.method == "POST":
        try:
            stored = submit(request.POST.get("score", ""), request.POST.get("comment", ""))
        except ValidationError as exc:
            return render(request, template, context | {"errors": exc.message_dict}, status=400)
        happy = stored and int(request.POST["score"]) >= happy_from
        context = context | {"done": True, "happy": happy, "review_url": settings.REVIEW_ASK_URL}
    return render(request, template, context)
