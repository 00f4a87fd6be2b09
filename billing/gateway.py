"""The one door to Stripe: a `StripeClient` on the pinned API version (settings.STRIPE_API_VERSION).

`STRIPE_HTTP_CLIENT` may name a `stripe.HTTPClient` subclass (a dotted path, like
SMS_BACKEND): the tests hand the real SDK a fake HTTP client there, so every request goes
through the SDK's own encoding, idempotency and error handling.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string
from stripe import StripeClient


class BillingNotConfigured(Exception):
    """Stripe is not set up in this installation; the message says what is missing."""


def stripe_client() -> StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise BillingNotConfigured("Billing is not connected: STRIPE_SECRET_KEY is not set.")
    http_client = import_string(settings.STRIPE_HTTP_CLIENT)() if settings.STRIPE_HTTP_CLIENT else None
    return StripeClient(
        settings.STRIPE_SECRET_KEY,
        stripe_version=settings.STRIPE_API_VERSION,
        http_client=http_client,
        max_network_retries=2,  # safe: every create call carries an idempotency key
    )
