from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from core.scoping import TenantOwnedModel

from .labels import humanize
from .validators import validate_e164_phone, validate_external_id, validate_timezone


class HealthBucket(models.TextChoices):
    # Thresholds live on the health model (default: healthy >= 80, at_risk 60-79, critical < 60).
    # NEW: younger than the model's warm-up; scored for information only, no rule acts on it.
    NEW = "new", "New"
    HEALTHY = "healthy", "Healthy"
    AT_RISK = "at_risk", "At risk"
    CRITICAL = "critical", "Critical"


class ChurnReason(models.TextChoices):
    """Why a customer left (seed 002's churn taxonomy): billing ops or the CSM pick one."""

    PRICE = "price", "Price"
    PRODUCT_GAP = "product_gap", "Product gap"
    NO_VALUE = "no_value", "No value realised"
    OUT_OF_BUSINESS = "out_of_business", "Went out of business"
    COMPETITOR = "competitor", "Switched to a competitor"
    PAYMENT_FAILURE = "payment_failure", "Payment failure"
    OTHER = "other", "Other"


class ConsentSource(models.TextChoices):
    """Where the owner's SMS consent was given (kept with its time, for the record)."""

    API = "api", "API"
    SIGNUP = "signup", "Signup form"
    WIZARD = "wizard", "Onboarding wizard"
    STAFF = "staff", "Staff (given by phone)"


class Tenant(models.Model):
    """A customer account of the SaaS company: the unit everything else belongs to."""

    class Plan(models.TextChoices):
        # Tiers and prices from the CS strategy seed: Starter $19, Professional $49, Business $99.
        STARTER = "starter", "Starter"
        PROFESSIONAL = "professional", "Professional"
        BUSINESS = "business", "Business"

    class LifecycleStage(models.TextChoices):
        ONBOARDING = "onboarding", "Onboarding"  # first 30 days (the Day 0–30 playbook)
        ADOPTION = "adoption", "Adoption"  # past day 30, growing into the product
        CHURNED = "churned", "Churned"

    external_id = models.CharField(max_length=64, unique=True, validators=[validate_external_id])
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    plan = models.CharField(max_length=20, choices=Plan.choices)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    signed_up_at = models.DateTimeField()
    # Set when an existing customer (signed up well before) is imported: the cockpit has no
    # history of it, so its health warm-up, onboarding clock and inactivity count from here.
    imported_at = models.DateTimeField(null=True, blank=True)
    lifecycle_stage = models.CharField(max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.ONBOARDING)
    segment = models.CharField(max_length=64, blank=True)
    csm_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_tenants",
        help_text="The CSM who owns this account.",
    )
    contract_ends_on = models.DateField(
        null=True,
        blank=True,
        help_text="When the current contract ends: the renewal runway starts 120 days before.",
    )
    # The owner's referral link carries this (seed 001: refer a friend, both get a month free);
    # `referred_by` is the tenant whose link a signup came through.
    referral_code = models.CharField(max_length=12, unique=True, null=True, blank=True)
    referred_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals")
    owner_name = models.CharField(max_length=200, blank=True)
    owner_email = models.EmailField()
    owner_phone = models.CharField(max_length=20, blank=True, validators=[validate_e164_phone])
    sms_consent_at = models.DateTimeField(null=True, blank=True, help_text="When the owner agreed to SMS.")
    sms_consent_source = models.CharField(max_length=10, choices=ConsentSource.choices, blank=True)
    churned_at = models.DateTimeField(null=True, blank=True)
    # Blank until someone says why (a lapsed trial or a canceled card may not say).
    churn_reason = models.CharField(max_length=20, choices=ChurnReason.choices, blank=True)
    churn_note = models.CharField(max_length=500, blank=True)
    # Denormalised from the health app for fast lists and filters; health writes them.
    health_score = models.FloatField(null=True, blank=True)
    health_bucket = models.CharField(max_length=10, choices=HealthBucket.choices, blank=True)
    health_computed_at = models.DateTimeField(null=True, blank=True)
    # What the last score saw: it is due again when data_as_of or the published model differ.
    health_data_as_of = models.DateTimeField(null=True, blank=True)
    health_model_version = models.PositiveIntegerField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True, help_text="Latest occurred_at of its events.")
    data_as_of = models.DateTimeField(null=True, blank=True, help_text="When its latest events were received.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["plan"]),
            models.Index(fields=["segment"]),
            models.Index(fields=["signed_up_at"]),
            models.Index(fields=["health_bucket", "health_score"]),
            # The renewal runway and the home's renewals tile read tenants by end date.
            models.Index(
                fields=["contract_ends_on"], condition=Q(contract_ends_on__isnull=False), name="tenant_renewal"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"

    @property
    def known_since(self) -> datetime:
        """Since when the cockpit can know what this tenant did: its signup, or its import."""
        return self.imported_at or self.signed_up_at


class Membership(TenantOwnedModel):
    """A user's place in a tenant: the tenant's owner or one of its members."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_one_per_user_tenant")]

    def __str__(self) -> str:
        return f"{self.user} – {self.role} of {self.tenant_id}"


class TimelineEntry(TenantOwnedModel):
    """One thing that happened to a tenant. Every app writes here through timeline_record()."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="timeline_entries")
    at = models.DateTimeField()
    kind = models.CharField(max_length=64)
    summary = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        verbose_name_plural = "timeline entries"
        indexes = [models.Index(fields=["tenant", "-at", "-id"], name="timeline_tenant_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}: {self.summary}"

    @property
    def kind_label(self) -> str:
        """What the timeline shows for `kind` (a machine name, kept for filters and the API)."""
        return TIMELINE_KIND_LABELS.get(self.kind) or humanize(self.kind)


# Kinds whose derived words read badly; every other kind reads as its words ("Alert opened").
TIMELINE_KIND_LABELS = {
    "tenant.created": "Signed up",
    "health.bucket_changed": "Health changed",
    "onboarding.milestone_completed": "Milestone done",
    "touchpoint.email": "Email sent",
    "touchpoint.sms": "SMS sent",
    "touchpoint.task": "Task created",
    "touchpoint.in_app": "In-app message",
    "touchpoint.webhook": "Webhook sent",
}


class TenantNote(TenantOwnedModel):
    """What a CSM knows that no event says ("champion leaves in March"). Markdown, rendered
    sanitised (core.markdown); at most one pinned per tenant, shown first on its page."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    author_label = models.CharField(max_length=200, help_text="The author's name when they wrote it.")
    body = models.TextField()
    pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        indexes = [models.Index(fields=["tenant", "-created_at", "-id"], name="note_tenant_created")]
        constraints = [
            # Pinning is "the one thing to read first": a second pin replaces the first (the
            # service unpins under a lock); this makes a race between two pins fail, not stick.
            models.UniqueConstraint(fields=["tenant"], condition=models.Q(pinned=True), name="note_one_pinned")
        ]

    def __str__(self) -> str:
        return f"Note by {self.author_label} on {self.created_at:%Y-%m-%d}"


class AuditLog(models.Model):
    """Who did what to which object, with the state before and after. Staff actions and
    API-key writes land here; the system itself is the actor when `actor` is empty."""

    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=200, help_text="User name or API key name at the time.")
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=200)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["tenant", "-at"], name="audit_tenant_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_repr}"


class ApiKey(models.Model):
    """A bearer key for the HTTP API. Only the SHA-256 of the secret is stored; the prefix is
    shown so people can tell their keys apart."""

    class Scope(models.TextChoices):
        INGEST = "ingest", "Ingest events"
        READ = "read", "Read"
        ADMIN = "admin", "Admin"

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    tenant = models.ForeignKey(
        Tenant,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_keys",
        help_text="When set, the key only sees and writes this tenant's data.",
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.scope})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
