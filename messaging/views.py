"""Email providers' tracking webhooks (django-anymail): bounces, complaints and unsubscribes
become suppressions (messaging.suppressions.suppression_from_tracking, connected in
MessagingConfig.ready). Off — 404 — until ANYMAIL_WEBHOOK_SECRET is set: anymail would
otherwise take unauthenticated posts, and anyone could suppress any address."""

from __future__ import annotations

from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt

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
