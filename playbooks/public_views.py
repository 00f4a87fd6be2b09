"""What customers and providers reach: the unsubscribe link, the NPS survey link, dismissing an
in-app message, and Twilio's status and inbound callbacks (signatures verified with the SDK)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core.http import safe_next
from tenants.validators import parse_id

from . import selectors, services

logger = logging.getLogger(__name__)


@csrf_exempt  # the signed token is the credential; mail clients' one-click POST has no CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        payload = services.unsubscribe_read(token=token)
    except ValidationError as exc:
        return render(request, "playbooks/unsubscribe.html", {"error": exc.messages[0]}, status=400)
    if request.method == "POST":
        email = services.email_unsubscribe(token=token, now=timezone.now())
        return render(request, "playbooks/unsubscribe.html", {"email": email, "done": True})
    return render(request, "playbooks/unsubscribe.html", {"email": payload["email"], "token": token})


@require_http_methods(["GET", "POST"])
def nps_survey(request: HttpRequest, token: str) -> HttpResponse:
    try:
        tenant = services.survey_tenant(token=token)
    except ValidationError as exc:
        return render(request, "playbooks/survey.html", {"error": exc.messages[0]}, status=400)
    context = {"tenant": tenant, "token": token, "scores": range(11)}
    if request.method == "POST":
        try:
            services.nps_survey_submit(
                token=token,
                score=request.POST.get("score", ""),
                comment=request.POST.get("comment", ""),
                now=timezone.now(),
            )
        except ValidationError as exc:
            context["errors"] = exc.message_dict
            return render(request, "playbooks/survey.html", context, status=400)
        context["done"] = True
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


def _twilio_signature_ok(request: HttpRequest) -> bool:
    from twilio.request_validator import RequestValidator

    signature = request.headers.get("X-Twilio-Signature", "")
    if not settings.TWILIO_AUTH_TOKEN or not signature:
        return False
    # The URL must be exactly the one Twilio called, as Django sees it (scheme and host
    # included: behind a proxy, SECURE_PROXY_SSL_HEADER and ALLOWED_HOSTS make it right).
    url = request.build_absolute_uri()
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, request.POST.dict(), signature)


TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not _twilio_signature_ok(request):
        logger.warning(
            "Twilio status callback with a bad or missing signature from %s", request.META.get("REMOTE_ADDR")
        )
        return HttpResponseForbidden("Invalid Twilio signature.")
    services.sms_status_update(
        message_sid=request.POST.get("MessageSid", ""),
        delivery_id=parse_id(request.GET.get("delivery")),
        status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
        now=timezone.now(),
    )
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not _twilio_signature_ok(request):
        logger.warning(
            "Twilio inbound message with a bad or missing signature from %s", request.META.get("REMOTE_ADDR")
        )
        return HttpResponseForbidden("Invalid Twilio signature.")
    services.sms_inbound(phone=request.POST.get("From", ""), body=request.POST.get("Body", ""), now=timezone.now())
    # Empty TwiML: Twilio's own Advanced Opt-Out sends the STOP/START confirmation text.
    return HttpResponse(TWIML_EMPTY, content_type="text/xml")
