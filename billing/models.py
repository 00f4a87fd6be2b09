"""The Stripe mirror: processed events, customers, subscriptions with their history of
observed states, and invoices. Stripe is the source of truth; these rows are what the
cockpit reads, written only by services.stripe_event_process (one row per Stripe event id,
in the same transaction as its effect) and the billing-ops actions.

Webhooks arrive in any order. A subscription's mirror is therefore not “the last event
wins” but a fold over its history (`SubscriptionChange`, one row per event that showed it),
ordered by Stripe's event timestamps: whatever order the events came in, the same history
gives the same mirror.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.scoping import TenantOwnedModel
from tenants.models import Tenant

from .plans import PLANS


class SubscriptionStatus(models.TextChoices):
    INCOMPLETE = "incomplete", "Incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired", "Incomplete, expired"
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    UNPAID = "unpaid", "Unpaid"
    PAUSED = "paused", "Paused"
    CANCELED = "canceled", "Canceled"


PAST_DUE_STATUSES = frozenset({SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID})
# Statuses whose subscription is revenue: it counts in MRR (a past-due one until it is canceled).
BILLING_STATUSES = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID})


class StripeEvent(models.Model):
    """One verified webhook event, stored once: the unique event id is the replay guard, and
    the row is written in the same transaction as the event's effect."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        UNMATCHED = "unmatched", "No tenant matched"
        IGNORED = "ignored", "Not a type we act on"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    created = models.DateTimeField(help_text="When Stripe created the event (orders out-of-order events).")
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=40, blank=True)
    payload = models.JSONField()
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["outcome", "-received_at"], name="stripe_event_outcome")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class Customer(models.Model):
    """A Stripe customer, its tenant (by metadata.tenant or a Checkout session) and the card on file."""

    stripe_id = models.CharField(max_length=255, unique=True)
    tenant = models.OneToOneField(
        Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="stripe_customer"
    )
    email = models.EmailField(blank=True)
    name = models.CharField(max_length=200, blank=True)
    default_payment_method = models.CharField(max_length=255, blank=True)
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    # Created time of the newest event applied to this row (and to its card, which has events
    # of its own): an older one never overwrites it.
    state_at = models.DateTimeField(null=True, blank=True)
    card_state_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["card_exp_year", "card_exp_month"], name="customer_card_expiry")]

    def __str__(self) -> str:
        return self.stripe_id

    @property
    def card_label(self) -> str:
        if not self.card_last4:
            return ""
        expiry = f" · exp {self.card_exp_month:02d}/{self.card_exp_year}" if self.card_exp_year else ""
        return f"{self.card_brand.title()} ····{self.card_last4}{expiry}"


class Subscription(TenantOwnedModel):
    """The mirror of one Stripe subscription: the fold of its history (see the module doc),
    plus what billing ops did about it. `tenant` is empty while no tenant matches; billing
    ops see such subscriptions as unmatched."""

    stripe_id = models.CharField(max_length=255, unique=True)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="subscriptions")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, choices=SubscriptionStatus.choices)
    plan = models.CharField(max_length=20, blank=True, help_text="Empty when the price is not one of STRIPE_PRICE_*.")
    price_id = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    currency = models.CharField(max_length=3, default="usd")
    list_mrr_cents = models.PositiveIntegerField(default=0, help_text="Monthly price × quantity, whatever the status.")
    mrr_cents = models.PositiveIntegerField(default=0, help_text="What it adds to MRR now (0 unless it bills).")
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    # A cancellation scheduled for a date (Stripe's cancel_at; with cancel_at_period_end, the
    # period end): the tenant churns then, not when the request arrives.
    cancel_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True, help_text="When the cancellation was requested.")
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When it stopped: the churn's effective date.")
    cancellation_reason = models.CharField(
        max_length=40, blank=True, help_text="Stripe's cancellation_details.reason, e.g. payment_failed."
    )
    ended_from = models.CharField(
        max_length=20, blank=True, help_text="The status it was canceled from (trialing: a lapsed trial)."
    )
    past_due_since = models.DateTimeField(null=True, blank=True)
    state_at = models.DateTimeField(help_text="Stripe time of the newest state in its history.")
    latest_invoice = models.ForeignKey("Invoice", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # What billing ops did (audited, on the timeline).
    dunning_paused_at = models.DateTimeField(null=True, blank=True)
    dunning_paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dunning_pause_note = models.CharField(max_length=500, blank=True)
    # Day 0 of this episode's dunning, fixed when its first run starts: a late, older past_due
    # event may move past_due_since, but must not make the same episode look new (a second
    # dunning). Each resume starts a fresh run for the same episode.
    dunning_episode_at = models.DateTimeField(null=True, blank=True)
    dunning_resumes = models.PositiveSmallIntegerField(default=0)
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    last_contacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_contact_note = models.CharField(max_length=1000, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta(TenantOwnedModel.Meta):
        indexes = [
            models.Index(fields=["status", "past_due_since"], name="subscription_status"),
            models.Index(fields=["tenant", "-state_at"], name="subscription_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id} ({self.status})"

    @property
    def is_past_due(self) -> bool:
        return self.status in PAST_DUE_STATUSES

    @property
    def plan_name(self) -> str:
        plan = PLANS.get(self.plan)
        return plan.name if plan else (self.price_id or "unknown price")


class SubscriptionChange(models.Model):
    """One event's view of a subscription: the whole object it carried (`kind=object`), a
    failed payment of one of its invoices (`failed`), or a payment (`paid`, which ends a
    past-due episode even when the subscription's own update is lost — if it paid the newest
    failed invoice). The mirror and the revenue figures fold these."""

    class Kind(models.TextChoices):
        OBJECT = "object", "Subscription object"
        FAILED = "failed", "Invoice payment failed"
        PAID = "paid", "Invoice paid"

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="changes")
    event = models.OneToOneField(StripeEvent, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(help_text="The event's created time.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=SubscriptionStatus.choices, blank=True)
    price_id = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    currency = models.CharField(max_length=3, default="usd")
    list_mrr_cents = models.PositiveIntegerField(default=0)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    cancel_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=40, blank=True)
    invoice_created = models.DateTimeField(null=True, blank=True, help_text="failed / paid: the invoice's created.")

    class Meta:
        indexes = [models.Index(fields=["subscription", "at"], name="subscription_change_at")]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.at:%Y-%m-%d %H:%M:%S} {self.kind} {self.status}"


class Invoice(TenantOwnedModel):
    stripe_id = models.CharField(max_length=255, unique=True)
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=20)  # draft, open, paid, uncollectible, void
    amount_due_cents = models.PositiveIntegerField(default=0)
    amount_paid_cents = models.PositiveIntegerField(default=0)
    amount_remaining_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, default="usd")
    attempt_count = models.PositiveSmallIntegerField(default=0)
    next_payment_attempt = models.DateTimeField(null=True, blank=True)
    needs_action = models.BooleanField(default=False, help_text="The payment needs the customer (3-D Secure).")
    hosted_invoice_url = models.URLField(max_length=500, blank=True)
    created = models.DateTimeField(help_text="When Stripe created the invoice.")
    paid_at = models.DateTimeField(null=True, blank=True)
    state_at = models.DateTimeField(help_text="Created time of the newest event applied to this row.")
    updated_at = models.DateTimeField()

    class Meta(TenantOwnedModel.Meta):
        indexes = [models.Index(fields=["subscription", "-created"], name="invoice_subscription_created")]

    def __str__(self) -> str:
        return f"{self.stripe_id} ({self.status})"


class Trial(TenantOwnedModel):
    """A tenant's free trial of its plan, recorded at signup — one per tenant, ever: the unique
    tenant refuses a second one.

    Without Stripe it *is* the trial (the owner's and the cockpit's pages read it; it lapses
    on `ends_at`). With Stripe it is also the order to create the trialing subscription,
    which a tick job carries out after the signup committed (never inside a transaction) and
    records here; from then on the subscription's mirror is the truth, and this row follows
    it (converted on the first paid invoice, lapsed when Stripe cancels it)."""

    class Status(models.TextChoices):
        TRIALING = "trialing", "Trialing"
        CONVERTED = "converted", "Converted to paid"
        LAPSED = "lapsed", "Lapsed"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="trial")
    plan = models.CharField(max_length=20)
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.TRIALING)
    converted_at = models.DateTimeField(null=True, blank=True, help_text="When its first invoice was paid.")
    lapsed_at = models.DateTimeField(null=True, blank=True, help_text="When it ended without converting.")
    # The Stripe side: the subscription the tick job created, or why it could not yet.
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    stripe_attempts = models.PositiveSmallIntegerField(default=0)
    stripe_retry_at = models.DateTimeField(null=True, blank=True)
    stripe_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta(TenantOwnedModel.Meta):
        indexes = [models.Index(fields=["status", "ends_at"], name="trial_status_ends")]

    def __str__(self) -> str:
        return f"trial of {self.tenant_id} until {self.ends_at:%Y-%m-%d} ({self.status})"
