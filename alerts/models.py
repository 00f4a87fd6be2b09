"""Escalation rules and the alerts they open (their messages are messaging.Message rows).

A rule is reconciled every tick (services.py): the tenants where its condition holds get an
alert, open alerts whose condition cleared are resolved. One open alert per tenant × rule is
a database constraint, so two evaluations racing cannot open two. Notifications are outbox
messages — one per alert × recipient × kind (notify.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.scoping import TenantOwnedModel
from tenants.labels import humanize
from tenants.models import Tenant


class Severity(models.TextChoices):
    P1 = "P1", "P1 – urgent"
    P2 = "P2", "P2 – high"
    P3 = "P3", "P3 – normal"
    INFO = "info", "Info"


SEVERITY_ORDER = {Severity.P1: 0, Severity.P2: 1, Severity.P3: 2, Severity.INFO: 3}


class Route(models.TextChoices):
    CSM = "csm", "CSM"
    CS_LEAD = "cs_lead", "CS lead"
    BILLING_OPS = "billing_ops", "Billing ops"


class AlertRule(models.Model):
    """A built-in rule's settings: what staff may tune. The condition itself is code
    (rules.py), keyed by slug; rows are created by rules_sync() and never deleted."""

    slug = models.SlugField(max_length=64, unique=True)
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=4, choices=Severity.choices)
    route = models.CharField(max_length=20, choices=Route.choices)
    params = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=300, blank=True)

    class Meta:
        db_table = "playbooks_alertrule"  # moved from playbooks with the alerts app; the table stayed
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def name(self) -> str:
        """The rule's name for people (“Subscription past due”), from its spec in rules.py."""
        from .rules import RULES  # rules.py imports this module: read the registry late

        spec = RULES.get(self.slug)
        return spec.name if spec else humanize(self.slug)


ACTIVE_STATUSES = ("open", "acknowledged", "snoozed")


class Alert(TenantOwnedModel):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        SNOOZED = "snoozed", "Snoozed"
        RESOLVED = "resolved", "Resolved"

    class Notified(models.TextChoices):
        PUSH = "push", "Pushed"
        DIGEST = "digest", "Held for the digest (attention budget)"
        NONE = "none", "Nobody to notify"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="alerts")
    severity = models.CharField(max_length=4, choices=Severity.choices)
    route = models.CharField(max_length=20, choices=Route.choices, help_text="The role queue it waits in.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="cs_alerts"
    )
    rationale = models.CharField(max_length=500, help_text="Why it opened, in words.")
    facts = models.JSONField(default=dict, blank=True, help_text="The values that opened it.")
    opened_at = models.DateTimeField()
    sla_due_at = models.DateTimeField(null=True, blank=True, help_text="Acknowledge by; none for info alerts.")
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=500, blank=True)
    notified = models.CharField(max_length=8, choices=Notified.choices, blank=True)
    # Resolved by a person while the condition still held: no new alert for this tenant × rule
    # until the condition has cleared once (else the next tick would reopen it at once).
    rearm_pending = models.BooleanField(default=False)

    class Meta(TenantOwnedModel.Meta):
        db_table = "playbooks_alert"  # moved from playbooks with the alerts app; the table stayed
        constraints = [
            # The exactly-once guard: two evaluations racing insert one alert; the loser's
            # insert is skipped (ON CONFLICT DO NOTHING). A resolved alert frees the slot, so a
            # condition that comes back opens a new alert.
            models.UniqueConstraint(
                fields=["tenant", "rule"], condition=Q(status__in=ACTIVE_STATUSES), name="alert_one_open_per_rule"
            )
        ]
        indexes = [
            models.Index(fields=["rule", "status"], name="alert_rule_status"),
            models.Index(fields=["sla_due_at"], condition=Q(status="open"), name="alert_sla_open"),
            models.Index(fields=["tenant", "-opened_at"], name="alert_tenant_opened"),
            models.Index(fields=["opened_at"], name="alert_opened"),
            models.Index(fields=["rule"], condition=Q(rearm_pending=True), name="alert_rearm_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}:{self.tenant_id} {self.severity} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status != self.Status.RESOLVED
