"""Addresses we must not write to, and everything that adds one.

A row per (channel, address): an SMS STOP, an email unsubscribe, a number Twilio says cannot
take texts (errors 30003–30006), an address the mail server refused for good (550, 551, 553)
or that the email provider reports as bounced, complained about or unsubscribed (django-
anymail's tracking webhooks). Touchpoints and the outbox both consult it before sending.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .errors import ProviderError
from .models import Suppression

# Twilio's delivery errors that say this number will not take texts (not "try later"):
# 30003 unreachable handset, 30004 blocked by the recipient, 30005 unknown number, 30006 a
# landline or unreachable carrier.
TWILIO_SUPPRESSING_ERRORS = {
    "30003": Suppression.Reason.INVALID,
    "30004": Suppression.Reason.OPTED_OUT,
    "30005": Suppression.Reason.INVALID,
    "30006": Suppression.Reason.INVALID,
}
# django-anymail's normalised tracking events that mean "do not write here again".
TRACKING_SUPPRESSING_EVENTS = {
    "bounced": Suppression.Reason.INVALID,
    "rejected": Suppression.Reason.INVALID,
    "complained": Suppression.Reason.UNSUBSCRIBED,
    "unsubscribed": Suppression.Reason.UNSUBSCRIBED,
}


def normalise_address(channel: str, address: str) -> str:
    return address.strip().lower() if channel == Suppression.Channel.EMAIL else address.strip()


def suppression_add(*, channel: str, address: str, reason: str, detail: str, now: datetime) -> bool:
    """Records that `address` must not be written to on `channel`. The first reason stands (a
    second report changes nothing); returns whether a row was added."""
    if not address:
        return False
    _, created = Suppression.objects.get_or_create(
        channel=channel,
        address=normalise_address(channel, address),
        defaults={"reason": reason, "detail": detail[:300], "created_at": now},
    )
    return created


def suppressed(*, channel: str, addresses: list[str]) -> dict[str, str]:
    """Which of these addresses are suppressed on this channel (as given, not normalised), and
    why (a Suppression.Reason)."""
    wanted = {normalise_address(channel, a): a for a in addresses if a}
    found = Suppression.objects.filter(channel=channel, address__in=list(wanted)).values_list("address", "reason")
    return {wanted[a]: reason for a, reason in found}


def suppression_from_provider_error(*, channel: str, address: str, exc: ProviderError, now: datetime) -> bool:
    """A provider refused a message because of its address: an invalid number or mailbox, or a
    recipient who opted out with the provider. Never written to again on that channel."""
    if not (exc.invalid_address or exc.opted_out) or channel not in Suppression.Channel.values:
        return False
    reason = Suppression.Reason.INVALID if exc.invalid_address else Suppression.Reason.OPTED_OUT
    return suppression_add(channel=channel, address=address, reason=reason, detail=str(exc), now=now)


def suppression_from_twilio_error(*, phone: str, error_code: str, now: datetime) -> bool:
    """A Twilio delivery receipt failed with an error that says the number cannot take texts."""
    reason = TWILIO_SUPPRESSING_ERRORS.get(error_code)
    if reason is None:
        return False
    return suppression_add(
        channel=Suppression.Channel.SMS, address=phone, reason=reason, detail=f"Twilio error {error_code}", now=now
    )


def suppression_from_tracking(*, event: Any, esp_name: str, now: datetime) -> bool:
    """An email provider's tracking event (django-anymail's AnymailTrackingEvent): a bounce, a
    complaint or an unsubscribe suppresses the recipient; anything else changes nothing."""
    reason = TRACKING_SUPPRESSING_EVENTS.get(event.event_type)
    if reason is None or not event.recipient:
        return False
    detail = f"{esp_name}: {event.event_type}" + (f" — {event.description}" if event.description else "")
    return suppression_add(
        channel=Suppression.Channel.EMAIL, address=event.recipient, reason=reason, detail=detail, now=now
    )
