from __future__ import annotations

from django.conf import settings
from django.db import models

from core.scoping import TenantOwnedModel
from tenants.models import Tenant


class OnboardingTemplate(models.Model):
    """A versioned milestone list. Tenants keep the version they started with; an edit makes a
    new version that only new signups get."""

    slug = models.SlugField(max_length=50)
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False, help_text="Used for signups no other template matches.")
    plans = models.JSONField(default=list, blank=True, help_text="Plans this template is for; empty = any plan.")
    segments = models.JSONField(default=list, blank=True, help_text="Segments it is for; empty = any segment.")
    is_current = models.BooleanField(default=True, help_text="The version new signups get.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["slug", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["slug", "version"], name="onboarding_template_version"),
            models.UniqueConstraint(fields=["slug"], condition=models.Q(is_current=True), name="one_current_version"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Milestone(models.Model):
    class Completion(models.TextChoices):
        WIZARD = "wizard", "The owner completes a wizard step"
        EVENT = "event", "The first event with a given name"
        STAFF = "staff", "A CSM ticks it, with a note"

    template = models.ForeignKey(OnboardingTemplate, on_delete=models.CASCADE, related_name="milestones")
    position = models.PositiveSmallIntegerField()
    key = models.SlugField(max_length=50)
    title = models.CharField(max_length=120)
    help_text = models.TextField(blank=True)
    required = models.BooleanField(default=True)
    expected_by_day = models.PositiveSmallIntegerField(help_text="Days after signup it should be done by.")
    completion = models.CharField(max_length=10, choices=Completion.choices)
    step = models.CharField(max_length=40, blank=True, help_text="For wizard milestones: the step form (steps.py).")
    event_name = models.CharField(max_length=64, blank=True, help_text="For event milestones; “*” is any event.")
    is_first_value = models.BooleanField(default=False, help_text="Reaching it is the tenant's time to first value.")

    class Meta:
        ordering = ["template", "position"]
        constraints = [models.UniqueConstraint(fields=["template", "key"], name="milestone_key_per_template")]

    def __str__(self) -> str:
        return f"{self.template} · {self.title}"


class TenantOnboarding(TenantOwnedModel):
    """A tenant's onboarding: which template version it follows and where it stands."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="onboarding")
    template = models.ForeignKey(OnboardingTemplate, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(help_text="The Day-0 anchor: the tenant's signup.")
    completed_at = models.DateTimeField(null=True, blank=True, help_text="When the last required milestone closed.")
    first_value_at = models.DateTimeField(null=True, blank=True)
    stalled_since = models.DateTimeField(null=True, blank=True, help_text="Set while a required milestone is overdue.")

    def __str__(self) -> str:
        return f"{self.tenant_id} on {self.template}"


class MilestoneProgress(TenantOwnedModel):
    """One completed milestone of one tenant. The unique constraint makes completing twice
    (two tabs, a replayed event, a CSM and the owner at once) a no-op."""

    class Source(models.TextChoices):
        WIZARD = "wizard", "Wizard"
        EVENT = "event", "Event"
        STAFF = "staff", "Staff"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="+")
    completed_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True, help_text="What the owner entered in the wizard step.")

    class Meta(TenantOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "milestone"], name="milestone_done_once")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.milestone_id} {self.source}"
