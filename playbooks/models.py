"""Playbooks (versioned definitions), their steps, runs per tenant and one delivery row per
run × step — the scheduler's memory. Plus what the channels leave behind: CSM tasks, in-app
messages, and the suppression list (SMS opt-outs, email unsubscribes, invalid numbers)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.scoping import TenantOwnedModel
from messaging.models import Message
from tenants.labels import humanize, role_label
from tenants.models import Tenant


class Trigger(models.TextChoices):
    SIGNUP = "signup", "Tenant signs up"
    TRIAL_CONVERTED = "trial_converted", "Trial converts to paid"
    ALERT = "alert", "An alert opens"
    MANUAL = "manual", "Started by staff"
    SUBSCRIPTION_PAST_DUE = "subscription_past_due", "Subscription goes past due"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    TASK = "task", "CSM task"
    IN_APP = "in_app", "In-app message"
    WEBHOOK = "webhook", "Webhook"


MESSAGE_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS})  # what the daily throttle counts
CUSTOMER_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS, Channel.IN_APP})  # rendered strictly


class Playbook(models.Model):
    """The identity of a playbook (its slug) and whether it runs. What it does lives on its
    versions: an edit or a changed file makes a new version, and runs keep the one they began."""

    slug = models.SlugField(max_length=80, unique=True)
    enabled = models.BooleanField(default=True)
    current = models.ForeignKey("PlaybookVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    is_builtin = models.BooleanField(default=False, help_text="From the built-in library (load_playbooks).")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class PlaybookVersion(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    trigger_rule = models.CharField(max_length=64, blank=True, help_text="For alert triggers: the rule slug.")
    # Canonical definition (what export_yaml writes back): audience, stop_when, window, steps...
    definition = models.JSONField()
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the canonical definition.")
    source = models.CharField(max_length=300, blank=True, help_text="File it was loaded from, or “cockpit”.")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["playbook", "-number"]
        constraints = [models.UniqueConstraint(fields=["playbook", "number"], name="playbook_version_number")]

    def __str__(self) -> str:
        return f"{self.playbook.slug} v{self.number}"

    @property
    def origin_label(self) -> str:
        """Where this version came from, for the versions table: who saved it in the editor, or
        that it was loaded from a file (the file's name is an implementation detail)."""
        if self.created_by is not None:
            return f"{self.created_by} in the editor"
        return "the editor" if self.source == "cockpit" else "loaded from a playbook file"


class Step(models.Model):
    """One touchpoint of a playbook version: when (day and hour offsets from the run's
    anchor), how (channel) and what (templates), and when to leave it out (conditions)."""

    version = models.ForeignKey(PlaybookVersion, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    key = models.SlugField(max_length=80)
    section = models.CharField(max_length=200, blank=True, help_text="E.g. “Day 2–3: Technical setup”.")
    day = models.PositiveSmallIntegerField(default=0)
    hours = models.PositiveSmallIntegerField(default=0, help_text="Added to the day offset.")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subject = models.CharField(max_length=300, blank=True, help_text="Email subject, task or in-app title.")
    body = models.TextField(blank=True)
    conditions = models.JSONField(default=list, blank=True)
    owner_role = models.CharField(
        max_length=20, blank=True, help_text="Tasks: the role queue when no CSM owns the tenant."
    )
    owner_name = models.CharField(max_length=200, blank=True, help_text="Tasks: the owner the playbook names.")
    due_in_hours = models.PositiveIntegerField(default=0, help_text="Tasks: due this long after they are created.")
    transactional = models.BooleanField(default=False, help_text="Sent at once: no window, throttle or unsubscribe.")
    webhook_url = models.URLField(max_length=500, blank=True)
    # Alternatives of one another (the Day 3 activation by usage level): the group is decided
    # once, from one reading of the facts, into one send or one skip with its reason.
    variant = models.SlugField(max_length=80, blank=True)

    class Meta:
        ordering = ["version", "position"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="step_key_per_version")]

    def __str__(self) -> str:
        return f"{self.version} · day {self.day} · {self.key}"

    @property
    def offset_label(self) -> str:
        return f"Day {self.day}" + (f" +{self.hours} h" if self.hours else "")

    @property
    def label(self) -> str:
        """The step's name for people: its key in words (“welcome-sms” → “Welcome SMS”). The
        subject is a template and an SMS has none, so neither can name the step."""
        return humanize(self.key)

    @property
    def owner_role_label(self) -> str:
        return role_label(self.owner_role) if self.owner_role else ""


class Run(TenantOwnedModel):
    """One tenant going through one playbook version. `enrolment_key` names the occurrence
    of the trigger (signup, one past-due episode, one alert, one manual start): the unique
    constraint makes a second tick starting the same occurrence a no-op."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(PlaybookVersion, on_delete=models.PROTECT, related_name="runs")
    enrolment_key = models.CharField(max_length=100)
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    anchor = models.DateTimeField(help_text="Day 0: step offsets count from here.")
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    ended_at = models.DateTimeField(null=True, blank=True)
    cancelled_reason = models.CharField(max_length=300, blank=True)

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "playbook", "enrolment_key"], name="run_once_per_enrolment"),
            # Two starts at once (a double click, a tick and a CSM) cannot both run: every
            # message would go twice.
            models.UniqueConstraint(
                fields=["tenant", "playbook"], condition=Q(status="active"), name="run_one_active_per_playbook"
            ),
        ]
        indexes = [models.Index(fields=["status", "playbook"], name="run_status_playbook")]

    def __str__(self) -> str:
        return f"{self.tenant_id} · {self.version} ({self.status})"


class Delivery(TenantOwnedModel):
    """One step of one run: the row the dispatcher claims. Unique per run × step, so a step
    is scheduled once however many ticks race; status only moves forward."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        NEEDS_REVIEW = "needs_review", "Needs review"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="deliveries")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="+")
    nominal_at = models.DateTimeField(help_text="Anchor + the step's offset.")
    due_at = models.DateTimeField(help_text="When it goes: the nominal time moved into the send window.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    recipient = models.CharField(max_length=500, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    rendered_subject = models.CharField(max_length=300, blank=True)
    rendered_body = models.TextField(blank=True)
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The outbox message of the latest attempt (email, SMS, webhook): the send itself.",
    )
    # Why it did what it did: condition values at send time, template version, provider answer.
    trace = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["run", "step"], name="delivery_once_per_run_step")]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="scheduled"), name="delivery_due"),
            models.Index(fields=["claimed_at"], condition=Q(status="sending"), name="delivery_sending"),
            models.Index(fields=["tenant", "due_at"], name="delivery_tenant_due"),
            models.Index(fields=["provider_id"], condition=~Q(provider_id=""), name="delivery_provider_id"),
            # The touchpoint list and the home's "sent today" / "failed today" read by these.
            models.Index(fields=["sent_at"], condition=Q(status__in=["sent", "delivered"]), name="delivery_sent"),
            models.Index(fields=["updated_at"], condition=Q(status="failed"), name="delivery_failed"),
        ]

    def __str__(self) -> str:
        return f"{self.step} → {self.status}"


class Task(TenantOwnedModel):
    """Work for a person: made by a `task` step (or by staff), assigned to the tenant's CSM or
    to a role queue."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    delivery = models.OneToOneField(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="task")
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="cs_tasks"
    )
    role = models.CharField(max_length=20, blank=True, help_text="The role queue it waits in when unassigned.")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=5, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta(TenantOwnedModel.Meta):
        indexes = [models.Index(fields=["status", "due_at"], name="task_status_due")]

    def __str__(self) -> str:
        return self.title

    @property
    def role_label(self) -> str:
        return role_label(self.role) if self.role else ""


class InAppMessage(TenantOwnedModel):
    """Shown to the tenant's owner on the wizard and account pages until dismissed."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    delivery = models.OneToOneField(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="in_app_message"
    )
    title = models.CharField(max_length=300)
    body = models.TextField()
    created_at = models.DateTimeField()
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantOwnedModel.Meta):
        indexes = [models.Index(fields=["tenant"], condition=Q(dismissed_at__isnull=True), name="inapp_open")]

    def __str__(self) -> str:
        return self.title


class TouchpointPause(TenantOwnedModel):
    """Staff paused every touchpoint of a tenant: due deliveries are skipped while it exists."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="touchpoint_pause")
    paused_at = models.DateTimeField()
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"{self.tenant_id} paused"


class VariantDecision(TenantOwnedModel):
    """Which member of a variant group a run sends, decided once: the first member whose
    conditions held when the group first came due (or none), with the facts it read. The
    unique (run, group) makes two workers deciding at once agree — the second reads the
    first's choice instead of making its own from a later reading of the facts."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="variant_decisions")
    group = models.SlugField(max_length=80)
    chosen_key = models.SlugField(max_length=80, blank=True, help_text="Blank: no member's conditions held.")
    checks = models.JSONField(default=dict, help_text="Each member's conditions as read at decided_at.")
    decided_at = models.DateTimeField()

    class Meta(TenantOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["run", "group"], name="variant_decided_once_per_run")]

    def __str__(self) -> str:
        return f"{self.run_id} {self.group}: {self.chosen_key or 'none'}"
