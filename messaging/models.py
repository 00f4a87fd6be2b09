"""The outbox: one row per message that is to leave (or left) through a provider.

`dedupe_key` is unique, so whatever enqueues the same message twice — a second tick, a
retried request, two billing-ops people clicking at once — makes one row. A row is claimed
with SKIP LOCKED and committed `sending` before the provider hears of it; an outcome nobody
knows (a timeout after the request left) is left for a person (`needs_review`), never sent
again. Every message is a Message: touchpoints (a playbooks.Delivery decides *when*, then
enqueues one Message per attempt), alert pushes and escalations, digests, portal-link
resends, billing escalations, verification links and teammate invitations. (Django's
password-reset email is the one exception: its link is a credential, and the outbox would
keep it in a table.)
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from tenants.models import Tenant

from .retry import MAX_ATTEMPTS


class Message(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        NEEDS_REVIEW = "needs_review", "Needs review"
        SKIPPED = "skipped", "Skipped"

    dedupe_key = models.CharField(max_length=200, unique=True)
    purpose = models.CharField(
        max_length=40, help_text="What it is, as “app.kind”: alert.push, alert.digest, billing.portal_link, …"
    )
    topic = models.CharField(
        max_length=100, blank=True, help_text="What it is about, as “kind:id” (alert:12, subscription:3)."
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The staff member it is for, when it is for one (budgets count per person).",
    )
    recipient = models.CharField(max_length=500, help_text="Email address, phone number or webhook URL.")
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    payload = models.JSONField(default=dict, blank=True, help_text="Webhooks: the JSON posted.")
    headers = models.JSONField(default=dict, blank=True, help_text="Email: extra headers (List-Unsubscribe).")
    transactional = models.BooleanField(
        default=False, help_text="Email: goes even to an address that unsubscribed (never to one that bounced)."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(
        default=MAX_ATTEMPTS,
        help_text="1 for a touchpoint: its delivery decides a retry, inside the tenant's send window.",
    )
    created_at = models.DateTimeField()
    due_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    error_code = models.CharField(max_length=20, blank=True, help_text="The provider's code for the last failure.")
    retryable = models.BooleanField(default=False, help_text="The last failure was one a later try may cure.")
    receipts = models.JSONField(
        default=list, blank=True, help_text="The provider's delivery receipts (Twilio status callbacks), in order."
    )
    redact_after_send = models.BooleanField(
        default=False, help_text="The body holds a link that works as a key: it is removed once sent."
    )

    class Meta:
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="scheduled"), name="message_due"),
            models.Index(fields=["claimed_at"], condition=Q(status="sending"), name="message_sending"),
            models.Index(fields=["user", "created_at"], name="message_user_created"),
            models.Index(fields=["topic", "purpose"], name="message_topic"),
            models.Index(fields=["provider_id"], condition=~Q(provider_id=""), name="message_provider_id"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.channel} → {self.recipient} ({self.status})"


class Suppression(models.Model):
    """An address we must not message on a channel: an SMS STOP, an email unsubscribe, a
    bounce or complaint, or a number the provider rejected as invalid (suppressions.py). START
    (SMS) removes an opt-out row."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    class Reason(models.TextChoices):
        OPTED_OUT = "opted_out", "Opted out"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        INVALID = "invalid", "Invalid address"

    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=254, help_text="E.164 phone or lower-case email.")
    reason = models.CharField(max_length=15, choices=Reason.choices)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "playbooks_suppression"  # moved from playbooks with messaging; the table stayed
        constraints = [models.UniqueConstraint(fields=["channel", "address"], name="suppression_once")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address} ({self.reason})"
