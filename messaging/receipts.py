"""What comes back from recipients and providers: Twilio's delivery receipts, STOP/START
replies, and the unsubscribe link in every non-transactional email. Each moves a message or
a suppression forward, once, and tells the producer (outbox.outcomes_report) or the tenant's
timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from core.events import TimelineKind
from tenants.models import Tenant
from tenants.services import timeline_record

from .models import Message, Suppression
from .outbox import outcomes_report
from .suppressions import normalise_address, suppression_from_twilio_error

Status = Message.Status
UNSUBSCRIBE_SALT = "playbooks.unsubscribe"  # the links already in inboxes were signed with it


# --- the unsubscribe link -------------------------------------------------------------------------


def unsubscribe_token(*, email: str, tenant_id: int) -> str:
    return signing.dumps({"email": email.lower(), "tenant": tenant_id}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(*, email: str, tenant_id: int) -> str:
    token = unsubscribe_token(email=email, tenant_id=tenant_id)
    return settings.SITE_URL.rstrip("/") + reverse("unsubscribe", args=[token])


def unsubscribe_read(*, token: str) -> dict[str, Any]:
    try:
        return signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise ValidationError("This unsubscribe link is not valid.") from None


def email_unsubscribe(*, token: str, now: datetime) -> str:
    payload = unsubscribe_read(token=token)
    with transaction.atomic():
        _, created = Suppression.objects.get_or_create(
            channel=Suppression.Channel.EMAIL,
            address=normalise_address(Suppression.Channel.EMAIL, payload["email"]),
            defaults={"reason": Suppression.Reason.UNSUBSCRIBED, "created_at": now, "detail": "unsubscribe link"},
        )
        tenant = Tenant.objects.filter(id=payload.get("tenant")).first()
        if created and tenant is not None:
            timeline_record(
                tenant=tenant,
                at=now,
                kind=TimelineKind.TOUCHPOINTS_UNSUBSCRIBED,
                summary=f"{payload['email']} unsubscribed from touchpoint emails",
            )
    return payload["email"]


# --- SMS replies ----------------------------------------------------------------------------------

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
START_WORDS = {"START", "YES", "UNSTOP"}


def sms_inbound(*, phone: str, body: str, now: datetime) -> str:
    """Twilio's STOP/START keywords: records an opt-out or removes it. Returns what happened.
    A message that starts with a STOP word opts out (when in doubt, stop); only a message that
    is nothing but a START word opts back in, as Twilio itself does — "Yes, but not by text"
    re-subscribes no one."""
    words = [w.strip(".,;:!?\"'") for w in body.upper().split()]
    word = words[0] if words else ""
    if not phone:
        return "ignored"
    tenants = list(Tenant.objects.filter(owner_phone=phone))
    with transaction.atomic():
        if word in STOP_WORDS:
            _, created = Suppression.objects.get_or_create(
                channel=Suppression.Channel.SMS,
                address=phone,
                defaults={"reason": Suppression.Reason.OPTED_OUT, "created_at": now, "detail": f"replied {word}"},
            )
            action = "opted_out" if created else "already_opted_out"
            summary = f"{phone} replied {word}: no more SMS"
        elif word in START_WORDS and len(words) == 1:
            deleted, _ = Suppression.objects.filter(
                channel=Suppression.Channel.SMS, address=phone, reason=Suppression.Reason.OPTED_OUT
            ).delete()
            action = "opted_in" if deleted else "not_opted_out"
            summary = f"{phone} replied {word}: SMS back on"
        else:
            return "ignored"
        if action in {"opted_out", "opted_in"}:
            for tenant in tenants:
                timeline_record(tenant=tenant, at=now, kind=f"sms.{action}", summary=summary)
    return action


# --- Twilio's delivery receipts -------------------------------------------------------------------

TWILIO_STATUSES = {"queued", "accepted", "sending", "sent", "delivered", "undelivered", "failed"}


def sms_status_update(
    *, message_sid: str, status: str, error_code: str, now: datetime, message_id: int | None = None
) -> bool:
    """Twilio's delivery receipt: recorded on its message, and the status moved forward only —
    a late `sent` after `delivered` changes nothing. A receipt that beats our own SENT mark
    waits in the row (the outbox applies it); one for a send in review settles the review.
    Answers whether the message's status moved."""
    if not message_sid or status not in TWILIO_STATUSES:
        return False  # an empty sid would match every SMS not sent yet
    with transaction.atomic():
        rows = Message.objects.select_for_update().filter(channel=Message.Channel.SMS)
        if message_id is not None:
            rows = rows.filter(id=message_id, provider_id__in=[message_sid, ""])
        else:
            rows = rows.filter(provider_id=message_sid)
        message = rows.first()
        if message is None:
            return False
        message.receipts = [
            *message.receipts,
            {"status": status, "at": now.isoformat(), "error_code": error_code, "sid": message_sid},
        ]
        failed = status in {"undelivered", "failed"}
        explained = f"{status}" + (f" (error {error_code})" if error_code else "")
        moved = False
        if message.status == Status.NEEDS_REVIEW:
            # Evidence from Twilio itself: no person needs to guess whether it went out.
            message.provider_id, message.sent_at = message_sid, message.sent_at or message.claimed_at
            message.status = Status.FAILED if failed else Status.SENT
            message.reason, moved = f"settled by Twilio's receipt: {explained}", True
        if message.status == Status.SENT and status == "delivered":
            message.status, message.delivered_at, moved = Status.DELIVERED, now, True
        elif message.status == Status.SENT and failed:
            message.status, message.reason, moved = Status.FAILED, f"Twilio reported {explained}", True
        if failed:
            message.error_code = error_code[:20]
            # 30003–30006: the number cannot take texts; never texted again.
            suppression_from_twilio_error(phone=message.recipient, error_code=error_code, now=now)
        message.save(
            update_fields=["status", "delivered_at", "sent_at", "provider_id", "reason", "error_code", "receipts"]
        )
        if moved:
            outcomes_report([message], now=now)
    return moved
