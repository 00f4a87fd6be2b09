"""The demo's contracts: about a third of the live tenants came with an annual contract that
ends within the next 200 days, set through the same service staff use, so the first tick
starts their renewal runways."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from tenants.models import Tenant
from tenants.services import tenant_contract_end_set


def seed_contracts(*, now: datetime, seed: int) -> int:
    rng = random.Random(seed + 17)  # its own sequence: the other seeds' draws stay the same
    dated = 0
    live = Tenant.objects.filter(external_id__startswith="demo-").exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
    for tenant in live.order_by("external_id"):
        if rng.random() < 0.35:
            ends_on = (now + timedelta(days=rng.randint(5, 200))).date()
            tenant_contract_end_set(tenant=tenant, ends_on=ends_on, actor=None, now=now)
            dated += 1
    return dated
