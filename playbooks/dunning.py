"""Dunning as billing ops see it: each past-due tenant's dunning progress (the runs of the
past-due playbooks), and “resend the portal link now” — a message a person sends on purpose,
through the same senders, suppression list and portal links as the playbook's own."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from billing.models import Subscription
from billing.selectors import portal_url
from core.events import AuditAction
from messaging.email import email_send
from messaging.errors import ProviderError
from messaging.sms import SmsMessage, sms_send
from tenants.models import TimelineEntry
from tenants.services import audit_record, timeline_record

from .models import Channel, Delivery, Run, Suppression, Trigger

RESEND_COOLDOWN = timedelta(minutes=5)
RESEND_KIND = "billing.portal_link_sent"


@dataclass(frozen=True)
class DunningProgress:
    run: Run
    sent: int
    total: int
    next_step: str
    next_due: datetime | None

    @property
    def label(self) -> str:
        if self.run.status == Run.Status.CANCELLED:
            return f"stopped: {self.run.cancelled_reason}"
        return f"{self.sent} of {self.total} sent"


def dunning_progress(*, tenant_ids: Iterable[int]) -> dict[int, DunningProgress]:
    """Each tenant's newest past-due run: how many of its steps went out, and what is next."""
    runs: dict[int, Run] = {}
    for run in (
        Run.all_tenants.filter(tenant_id__in=list(tenant_ids), trigger=Trigger.SUBSCRIPTION_PAST_DUE)
        .select_related("version")
        .order_by("tenant_id", "-started_at", "-id")
    ):
        runs.setdefault(run.tenant_id, run)
    deliveries: dict[int, list[Delivery]] = {}
    for delivery in (
        Delivery.all_tenants.filter(run__in=list(runs.values())).select_related("step").order_by("due_at", "id")
    ):
        deliveries.setdefault(delivery.run_id, []).append(delivery)
    progress = {}
    for tenant_id, run in runs.items():
        rows = deliveries.get(run.id, [])
        sent = sum(d.status in (Delivery.Status.SENT, Delivery.Status.DELIVERED) for d in rows)
        upcoming = next((d for d in rows if d.status == Delivery.Status.SCHEDULED), None)
        progress[tenant_id] = DunningProgress(
            run=run,
            sent=sent,
            total=len(rows),
            next_step=f"Day {upcoming.step.day} {upcoming.step.get_channel_display().lower()}" if upcoming else "",
            next_due=upcoming.due_at if upcoming else None,
        )
    return progress


@dataclass(frozen=True)
class ResendResult:
    sent: list[str]  # "email to …", "SMS to …"
    failed: list[str]


def _recent_resend(subscription: Subscription, now: datetime) -> bool:
    # Not atomic with the send below: two clicks in the same instant could both pass. The
    # button is disabled while its request runs (hx-disabled-elt), which covers the double click.
    return (
        TimelineEntry.objects.for_tenant(subscription.tenant)
        .filter(kind=RESEND_KIND, at__gt=now - RESEND_COOLDOWN, at__lte=now)
        .exists()
    )


def portal_link_resend(
    *, subscription: Subscription, email: bool, sms: bool, actor: AbstractBaseUser, now: datetime
) -> ResendResult:
    """Sends the owner the portal link now, by email and/or SMS. Refused with the reason when
    nothing can be sent (no channel chosen, no phone or consent, an opted-out number, no Stripe
    customer) or when it was just sent — a double click must not text a customer twice."""
    tenant = subscription.tenant
    if tenant is None:
        raise ValidationError({"channels": "This subscription belongs to no tenant: nobody to send the link to."})
    if not (email or sms):
        raise ValidationError({"channels": "Choose email, SMS or both."})
    if sms:
        if not tenant.owner_phone or not tenant.sms_consent_at:
            raise ValidationError({"channels": f"{tenant.name}'s owner gave no phone number with SMS consent."})
        if Suppression.objects.filter(channel=Channel.SMS, address=tenant.owner_phone).exists():
            raise ValidationError({"channels": f"{tenant.owner_phone} replied STOP: SMS is not allowed."})
    link = portal_url(tenant=tenant)
    if link is None:
        raise ValidationError({"channels": f"{tenant.name} has no Stripe customer: there is no portal to link to."})
    if _recent_resend(subscription, now):
        raise ValidationError({"channels": "The link was sent less than 5 minutes ago; wait before sending again."})
    first_name = (tenant.owner_name or "").split(" ")[0] or "there"
    sent, failed = [], []
    if email:
        text = (
            f"Hi {first_name},\n\nThe latest payment for {tenant.name} did not go through. You can update "
            f"your card in a minute here: {link}\n\nIf you have already fixed it, thank you — you can ignore "
            "this message.\n\nThe billing team"
        )
        try:
            email_send(to=tenant.owner_email, subject=f"Update your payment details for {tenant.name}", text=text)
            sent.append(f"email to {tenant.owner_email}")
        except ProviderError as exc:
            failed.append(f"email to {tenant.owner_email}: {exc}")
    if sms:
        body = f"The payment for {tenant.name} failed. Update your card: {link} Reply STOP to opt out."
        try:
            sms_send(SmsMessage(to=tenant.owner_phone, body=body, tenant=tenant.external_id, delivery_id=None))
            sent.append(f"SMS to {tenant.owner_phone}")
        except ProviderError as exc:
            failed.append(f"SMS to {tenant.owner_phone}: {exc}")
    summary = "Portal link sent by billing ops: " + ", ".join(sent) if sent else "Portal link not sent"
    if failed:
        summary += " (failed: " + "; ".join(failed) + ")"
    timeline_record(
        tenant=tenant,
        at=now,
        kind=RESEND_KIND,
        summary=summary,
        data={"subscription": subscription.stripe_id, "by": actor.get_username(), "sent": sent, "failed": failed},
    )
    audit_record(
        actor=actor,
        action=AuditAction.PORTAL_LINK_SENT,
        target=subscription,
        tenant=tenant,
        at=now,
        after={"sent": sent, "failed": failed},
    )
    return ResendResult(sent=sent, failed=failed)
