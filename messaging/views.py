"""What recipients and providers reach: the unsubscribe link, Twilio's status and inbound
callbacks (signatures verified with the SDK), and email providers' tracking webhooks
(django-anymail): bounces, complaints and unsubscribes become suppressions
(messaging.suppressions.suppression_from_tracking, connected in MessagingConfig.ready). The
tracking webhooks are off — 404 — until ANYMAIL_WEBHOOK_SECRET is set: anymail would
otherwise take unauthenticated posts, and anyone could suppress any address."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core.webhooks import webhook_tally
from tenants.validators import parse_id

from . import receipts

logger = logging.getLogger(__name__)
View = Callable[[HttpRequest], HttpResponse]

TEXT = "text/plain; charset=utf-8"
# ESPs whose tracking webhooks are secured by the shared basic-auth secret alone.
TRACKING_VIEWS = {
    "postmark": PostmarkTrackingWebhookView,
    "sendgrid": SendGridTrackingWebhookView,
    "brevo": BrevoTrackingWebhookView,
}


@csrf_exempt  # a provider's server posts here; the basic-auth secret is the check
def email_tracking(request: HttpRequest, esp: str) -> HttpResponse:
    # The answers are for the provider's webhook log (and whoever reads it): plain text.
    view_class = TRACKING_VIEWS.get(esp)
    if view_class is None:
        known = ", ".join(sorted(TRACKING_VIEWS))
        return HttpResponseNotFound(f"No tracking webhook for “{esp}”; there is one for {known}.", content_type=TEXT)
    if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return HttpResponseNotFound(
            "Email tracking webhooks are off: set ANYMAIL_WEBHOOK_SECRET (user:password) to turn them on.",
            content_type=TEXT,
        )
    return view_class.as_view()(request)


@csrf_exempt  # the signed token is the credential; mail clients' one-click POST has no CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        payload = receipts.unsubscribe_read(token=token)
    except ValidationError as exc:
        return render(request, "messaging/unsubscribe.html", {"error": exc.messages[0]}, status=400)
    if request.method == "POST":
        email = receipts.email_unsubscribe(token=token, now=timezone.now())
        return render(request, "messaging/unsubscribe.html", {"email": email, "done": True})
    return render(request, "messaging/unsubscribe.html", {"email": payload["email"], "token": token})


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


def twilio_signed(what: str) -> Callable[[View], View]:
    """Twilio's webhooks: POST only, no CSRF token (Twilio cannot have one), and the request's
    X-Twilio-Signature checked against TWILIO_AUTH_TOKEN — a 403 (and a log line naming
    `what`) otherwise, before anything is read or written."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @require_POST
        @wraps(view)
        def checked(request: HttpRequest) -> HttpResponse:
            now = timezone.now()
            if not _twilio_signature_ok(request):
                logger.warning(
                    "Twilio %s with a bad or missing signature from %s", what, request.META.get("REMOTE_ADDR")
                )
                webhook_tally(provider="twilio", outcome="rejected", now=now)
                return HttpResponseForbidden("Invalid Twilio signature.")
            try:
                response = view(request)
            except Exception:
                webhook_tally(provider="twilio", outcome="failed", now=now)
                raise
            webhook_tally(provider="twilio", outcome="accepted", now=now)
            return response

        return checked

    return decorate


@twilio_signed("status callback")
def twilio_status(request: HttpRequest) -> HttpResponse:
    receipts.sms_status_update(
        message_sid=request.POST.get("MessageSid", ""),
        message_id=parse_id(request.GET.get("message")),
        status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
        now=timezone.now(),
    )
    return HttpResponse(status=204)


@twilio_signed("inbound message")
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    receipts.sms_inbound(phone=request.POST.get("From", ""), body=request.POST.get("Body", ""), now=timezone.now())
    # Empty TwiML: Twilio's own Advanced Opt-Out sends the STOP/START confirmation text.
    return HttpResponse(TWIML_EMPTY, content_type="text/xml")
