"""Dunning as billing ops see it: each past-due tenant's dunning progress (the runs of the
past-due playbooks), and “resend the portal link now” — a message a person sends on purpose,
through the outbox, with the same suppression list and portal links as the playbook's own."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from billing.models import Subscription
from billing.selectors import portal_url
from core.events import AuditAction, TimelineKind
from messaging.models import Message, Suppression
from messaging.outbox import messages_enqueue, messages_send_now
from tenants.models import Tenant
from tenants.services import audit_record, timeline_record

from .models import Channel, Delivery, Run, Trigger

RESEND_COOLDOWN = timedelta(minutes=5)


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


PORTAL_LINK = "billing.portal_link"  # the Message purpose


def _recent_resend(topic: str, now: datetime) -> bool:
    return Message.objects.filter(
        purpose=PORTAL_LINK, topic=topic, created_at__gt=now - RESEND_COOLDOWN, created_at__lte=now
    ).exists()


def _portal_link_messages(
    *, tenant: Tenant, topic: str, link: str, email: bool, sms: bool, now: datetime
) -> list[Message]:
    # The n-th message about this subscription's link: two resends that raced past the lock
    # (there is none on SQLite) compute the same keys, and the unique key keeps one of each.
    sequence = Message.objects.filter(purpose=PORTAL_LINK, topic=topic).count()
    first_name = (tenant.owner_name or "").split(" ")[0] or "there"
    common = {
        "purpose": PORTAL_LINK,
        "topic": topic,
        "tenant": tenant,
        "created_at": now,
        "due_at": now,
        "redact_after_send": True,  # the portal link opens the owner's billing
    }
    rows = []
    if email:
        text = (
            f"Hi {first_name},\n\nThe latest payment for {tenant.name} did not go through. You can update "
            f"your card in a minute here: {link}\n\nIf you have already fixed it, thank you — you can ignore "
            "this message.\n\nThe billing team"
        )
        rows.append(
            Message(
                dedupe_key=f"portal-link:{topic}:{sequence}:email",
                channel=Message.Channel.EMAIL,
                recipient=tenant.owner_email,
                subject=f"Update your payment details for {tenant.name}",
                body=text,
                **common,
            )
        )
    if sms:
        body = f"The payment for {tenant.name} failed. Update your card: {link} Reply STOP to opt out."
        rows.append(
            Message(
                dedupe_key=f"portal-link:{topic}:{sequence}:sms",
                channel=Message.Channel.SMS,
                recipient=tenant.owner_phone,
                body=body,
                **common,
            )
        )
    return rows


def portal_link_resend(
    *, subscription: Subscription, email: bool, sms: bool, actor: AbstractBaseUser, now: datetime
) -> ResendResult:
    """Sends the owner the portal link now, by email and/or SMS, through the outbox. Refused
    with the reason when nothing can be sent (no channel chosen, no phone or consent, an
    opted-out number, no Stripe customer) or when it was just sent — two clicks, by one person
    or two, make one message."""
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
    topic = f"subscription:{subscription.id}"
    with transaction.atomic():
        # Locked: a second click (or a second billing-ops person) waits for this one's commit,
        # then finds its messages and is refused by the cooldown.
        Subscription.all_tenants.select_for_update().filter(pk=subscription.pk).first()
        if _recent_resend(topic, now):
            raise ValidationError({"channels": "The link was sent less than 5 minutes ago; wait before sending again."})
        rows = _portal_link_messages(tenant=tenant, topic=topic, link=link, email=email, sms=sms, now=now)
        messages_enqueue(rows)
    # Committed: the messages exist. Sent now through the outbox's own claim (a tick that took
    # them first sends them instead), so billing ops see at once whether they went.
    outcomes = messages_send_now(dedupe_keys=[r.dedupe_key for r in rows], now=now)
    sent, failed = [], []
    for m in outcomes:
        what = f"{'email' if m.channel == Message.Channel.EMAIL else 'SMS'} to {m.recipient}"
        if m.status == Message.Status.SENT:
            sent.append(what)
        elif m.status == Message.Status.SCHEDULED and m.attempts:
            failed.append(f"{what}: {m.reason} (it will be tried again)")
        elif m.status in (Message.Status.FAILED, Message.Status.SKIPPED, Message.Status.NEEDS_REVIEW):
            failed.append(f"{what}: {m.reason}")
        else:
            sent.append(f"{what} (queued)")
    summary = "Portal link sent by billing ops: " + ", ".join(sent) if sent else "Portal link not sent"
    if failed:
        summary += " (failed: " + "; ".join(failed) + ")"
    with transaction.atomic():
        timeline_record(
            tenant=tenant,
            at=now,
            kind=TimelineKind.PORTAL_LINK_SENT,
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
