"""The health model's signals that live in other apps — onboarding completion (the checklist)
and payment health (the Stripe mirror) — handed to health's scoring here, in the app above
both, so that health imports neither."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from billing.selectors import payment_health_facts
from health.scoring import register_facts_provider
from onboarding.selectors import onboarding_completion_facts


def _payment(tenant_ids: list[int] | None, as_of: datetime) -> dict[int, dict[str, Any]]:
    return payment_health_facts(tenant_ids=tenant_ids, as_of=as_of, now=timezone.now())


def _onboarding(tenant_ids: list[int] | None, as_of: datetime) -> dict[int, dict[str, Any]]:
    return onboarding_completion_facts(tenant_ids=tenant_ids, as_of=as_of)


def register() -> None:
    register_facts_provider("onboarding_completion", _onboarding)
    register_facts_provider("payment_health", _payment)
