"""What customers reach: the NPS survey link and dismissing an in-app message. (The unsubscribe
link and the providers' callbacks are messaging's.)"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.http import safe_next

from . import selectors, services

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def nps_survey(request: HttpRequest, token: str) -> HttpResponse:
    try:
        tenant = services.survey_tenant(token=token)
    except ValidationError as exc:
        status = 410 if exc.code == "expired" else 400
        return render(request, "playbooks/survey.html", {"error": exc.messages[0]}, status=status)
    context: dict[str, object] = {"tenant": tenant, "token": token, "scores": range(11)}
    answered = selectors.survey_answer_of(tenant=tenant, key=services.survey_key(token))
    if answered is not None:
        # One answer per link: a second visit (or a second POST) sees the first answer.
        return render(request, "playbooks/survey.html", context | {"answered": answered})
    if request.method == "POST":
        try:
            _, stored = services.nps_survey_submit(
                token=token,
                score=request.POST.get("score", ""),
                comment=request.POST.get("comment", ""),
                now=timezone.now(),
            )
        except ValidationError as exc:
            context["errors"] = exc.message_dict
            return render(request, "playbooks/survey.html", context, status=400)
        score = int(request.POST["score"])
        context |= {"done": True, "promoter": stored and score >= services.PROMOTER_FROM}
        context["review_url"] = settings.REVIEW_ASK_URL
    return render(request, "playbooks/survey.html", context)


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
