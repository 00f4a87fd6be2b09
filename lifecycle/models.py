"""One row per renewal-runway step a tenant reached: the exactly-once guard of its task."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.scoping import TenantOwnedModel
from playbooks.models import Task
from tenants.models import Tenant


class RenewalStep(TenantOwnedModel):
    """A step of the runway (120, 90, 60 or 30 days before the contract ends) that was reached
    for one contract end date. Unique per tenant, end date and step: two ticks at once make
    one row and one task; a new end date (the contract renewed) starts a new runway."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    contract_ends_on = models.DateField()
    days_before = models.PositiveSmallIntegerField()
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "contract_ends_on", "days_before"], name="renewal_step_once")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.days_before} days before {self.contract_ends_on}"


class Opportunity(TenantOwnedModel):
    """An upsell the CSM works (seed 004's expansion triggers, seed 001's upsell moments): why
    it opened, the plan it points to and what it adds to MRR, then open → proposed → won or
    lost with a reason. At most one is live (open or proposed) per tenant — a second trigger
    while one is being worked adds nothing — and a closed one's trigger rests for a cooldown
    (EXPANSION_COOLDOWN_DAYS) before it can open another."""

    class Trigger(models.TextChoices):
        FEATURE_REQUESTED = "feature_requested", "Feature request"
        OVER_LIMIT = "over_limit", "Over the plan limit three months running"
        USAGE_LIMIT = "usage_limit", "Near the plan limit"
        TEAM_GROWTH = "team_growth", "Team growing"
        TENURE_HEALTHY = "tenure_healthy", "Healthy on the plan"

    class Stage(models.TextChoices):
        OPEN = "open", "Open"
        PROPOSED = "proposed", "Proposed"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    class LostReason(models.TextChoices):
        PRICE = "price", "Price"
        TIMING = "timing", "Not now"
        NO_NEED = "no_need", "No need"
        COMPETITOR = "competitor", "Went elsewhere"
        OTHER = "other", "Other"

    LIVE = (Stage.OPEN, Stage.PROPOSED)

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(max_length=24, choices=Trigger.choices)
    detail = models.CharField(max_length=300)  # why, in words, for the CSM
    facts = models.JSONField(default=dict, blank=True)
    from_plan = models.CharField(max_length=20, choices=Tenant.Plan.choices)
    suggested_plan = models.CharField(max_length=20, choices=Tenant.Plan.choices)
    mrr_delta_cents = models.IntegerField()  # suggested plan's price − the plan's at opening
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.OPEN)
    lost_reason = models.CharField(max_length=16, choices=LostReason.choices, blank=True)
    note = models.CharField(max_length=500, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    won_mrr_cents = models.IntegerField(null=True, blank=True)  # what the win added to MRR
    opened_at = models.DateTimeField()
    stage_changed_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            # Two sweeps at once (or a sweep and a retry) cannot open two for one tenant.
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(stage__in=["open", "proposed"]), name="opportunity_one_live"
            )
        ]
        indexes = [
            models.Index(fields=["stage", "opened_at"], name="opportunity_stage_opened"),
            models.Index(fields=["closed_at"], name="opportunity_closed"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.trigger} → {self.suggested_plan} ({self.stage})"


class ExpansionSweep(models.Model):
    """One row per UTC day the expansion triggers were looked for: the tick runs every minute,
    the triggers read a month of usage, so the sweep claims its day by inserting this row and
    a second tick that day (or a second beat) finds it taken."""

    day = models.DateField(unique=True)
    started_at = models.DateTimeField()
    opened = models.PositiveIntegerField(default=0)
    won = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"expansion sweep {self.day}: {self.opened} opened, {self.won} won"


class CsatAsk(TenantOwnedModel):
    """A resolved ticket's satisfaction survey (seed 001's post-resolution survey): one per
    tenant and ticket, made with its email in one transaction, so a ticket resolved twice (or
    two ticks at once) asks once. `skipped` says why none went (touchpoints paused)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    ticket_id = models.CharField(max_length=100)
    resolved_at = models.DateTimeField()
    created_at = models.DateTimeField()
    skipped = models.CharField(max_length=100, blank=True)

    class Meta(TenantOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "ticket_id"], name="csat_ask_once")]

    def __str__(self) -> str:
        return f"{self.tenant_id}: CSAT for ticket {self.ticket_id}"


class ReferralReward(TenantOwnedModel):
    """Seed 001's referral program: when a tenant that signed up through another's link
    becomes a paying customer, both get a month free. One row per referred tenant and side,
    made by the tick; billing ops apply the credit in Stripe and mark it applied here."""

    class Side(models.TextChoices):
        REFERRER = "referrer", "Referrer"
        REFEREE = "referee", "Referred customer"

    class Status(models.TextChoices):
        PENDING = "pending", "To apply"
        APPLIED = "applied", "Applied"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")  # who gets the month
    referred = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")  # the signup it is for
    side = models.CharField(max_length=10, choices=Side.choices)
    reward = models.CharField(max_length=100, default="One month free")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta(TenantOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["referred", "side"], name="referral_reward_once")]
        indexes = [models.Index(fields=["status", "created_at"], name="referral_reward_status")]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.reward} ({self.side} of {self.referred_id}, {self.status})"


class NpsAsk(TenantOwnedModel):
    """One quarterly NPS survey email (seed 001: NPS quarterly) — the Nth after the Day 30 one
    of onboarding. Unique per tenant and number: two ticks at once send one."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveSmallIntegerField()  # 1 at signup + 120 days, 2 at + 210, …
    created_at = models.DateTimeField()
    skipped = models.CharField(max_length=100, blank=True)

    class Meta(TenantOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "number"], name="nps_ask_once")]
        indexes = [models.Index(fields=["tenant", "created_at"], name="nps_ask_tenant_created")]

    def __str__(self) -> str:
        return f"{self.tenant_id}: quarterly NPS #{self.number}"


class AdvocacyAsk(TenantOwnedModel):
    """What a CSM asked an advocate for and how it stands (seed 002's advocacy flywheel, seed
    001's review program): one row per tenant and kind, moved along as the answer comes."""

    class Kind(models.TextChoices):
        REVIEW = "review", "Public review"
        TESTIMONIAL = "testimonial", "Testimonial"
        CASE_STUDY = "case_study", "Case study"
        REFERRAL = "referral", "Referral"

    class Outcome(models.TextChoices):
        ASKED = "asked", "Asked"
        AGREED = "agreed", "Agreed"
        DECLINED = "declined", "Declined"
        PUBLISHED = "published", "Published"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.ASKED)
    asked_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta(TenantOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "kind"], name="advocacy_ask_per_kind")]
        indexes = [models.Index(fields=["outcome", "updated_at"], name="advocacy_ask_outcome")]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.kind} {self.outcome}"
