"""One row per renewal-runway step a tenant reached: the exactly-once guard of its task."""

from __future__ import annotations

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
