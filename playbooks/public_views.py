"""What customers reach: the NPS survey link and dismissing an in-app message. (The unsubscribe
link and the providers' callbacks are messaging's.)"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.http import safe_next
from core.surveys import survey_error_page, survey_page

from . import selectors, services

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def nps_survey(request: HttpRequest, token: str) -> HttpResponse:
    try:
        tenant = services.survey_tenant(token=token)
    except ValidationError as exc:
        return survey_error_page(request, "playbooks/survey.html", exc)
    return survey_page(
        request,
        template="playbooks/survey.html",
        context={"tenant": tenant, "token": token, "scores": range(11)},
        answered=selectors.survey_answer_of(tenant=tenant, key=services.survey_key(token)),
        submit=lambda score, comment: services.nps_survey_submit(
            token=token, score=score, comment=comment, now=timezone.now()
        )[1],
        happy_from=services.PROMOTER_FROM,
    )


@login_required
@require_POST
def in_app_dismiss(request: HttpRequest, message_id: int) -> HttpResponse:
    # Only a message of a tenant this user belongs to: another tenant's id is a 404.
    message = selectors.in_app_message_get(user=request.user, message_id=message_id)
    if message is None:
        raise Http404("No such message.")
    services.in_app_dismiss(message=message, user=request.user, now=timezone.now())
    if request.htmx:
        return HttpResponse("")
    return redirect(safe_next(request, default="after-login"))
