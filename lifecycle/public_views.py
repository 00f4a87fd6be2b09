"""What customers reach: the post-resolution (CSAT) survey link. No login: the signed link is
the key, and it takes one answer."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from core.surveys import survey_error_page, survey_page

from . import csat

SCORES = [
    (1, "Very unsatisfied"),
    (2, "Unsatisfied"),
    (3, "Neutral"),
    (4, "Satisfied"),
    (5, "Very satisfied"),
]


@require_http_methods(["GET", "POST"])
def csat_survey(request: HttpRequest, token: str) -> HttpResponse:
    try:
        tenant, ticket_id = csat.csat_link_read(token=token)
    except ValidationError as exc:
        return survey_error_page(request, "lifecycle/csat_survey.html", exc)
    return survey_page(
        request,
        template="lifecycle/csat_survey.html",
        context={"tenant": tenant, "ticket_id": ticket_id, "scores": SCORES},
        answered=csat.csat_answer_of(tenant=tenant, token=token),
        submit=lambda score, comment: csat.csat_submit(token=token, score=score, comment=comment, now=timezone.now())[
            1
        ],
        happy_from=csat.HAPPY_FROM,
    )
