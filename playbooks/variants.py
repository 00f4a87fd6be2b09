"""Variant groups: steps that are alternatives of one another (the Day 3 activation email by
usage level) are decided together, once per run, from one reading of the facts — so a tenant
whose usage changes between ticks still gets exactly one of them, or one recorded skip."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from tenants.labels import humanize

from .conditions import evaluate
from .facts import TenantFacts
from .models import Delivery, Step, VariantDecision


class VariantGroups:
    """Decides variant groups once per run. The first time any member of a group is decided,
    every member's conditions are read from the same facts at the same moment and the first
    that holds is chosen (or none); the dispatcher stores the choice (VariantDecision, unique
    per run × group) so members decided later follow it. The dry run decides in memory."""

    def __init__(self, batch: list[Delivery], *, persist: bool) -> None:
        self.persist = persist
        keys = {(d.run.version_id, d.step.variant) for d in batch if d.step.variant}
        self.members: dict[tuple[int, str], list[Step]] = {}
        if keys:
            for step in Step.objects.filter(
                version_id__in={k[0] for k in keys}, variant__in={k[1] for k in keys}
            ).order_by("position"):
                self.members.setdefault((step.version_id, step.variant), []).append(step)
        self.decided: dict[tuple[Any, str], VariantDecision] = {}
        if persist and keys:
            for decision in VariantDecision.all_tenants.filter(run_id__in={d.run_id for d in batch if d.step.variant}):
                self.decided[(decision.run_id, decision.group)] = decision

    def _decide(self, delivery: Delivery, facts: TenantFacts, now: datetime) -> VariantDecision:
        run, group = delivery.run, delivery.step.variant
        key = (run.id if self.persist else id(run), group)
        if key in self.decided:
            return self.decided[key]
        chosen, checks = "", {}
        for member in self.members.get((run.version_id, group), [delivery.step]):
            outcome = evaluate(member.conditions, facts)
            checks[member.key] = {
                "holds": outcome.holds,
                "why": "holds" if outcome.holds is True else outcome.explanation,
                "checks": outcome.checks,
            }
            if outcome.holds is True and not chosen:
                chosen = member.key
        decision = VariantDecision(
            tenant_id=delivery.tenant_id, run=run, group=group, chosen_key=chosen, checks=checks, decided_at=now
        )
        if self.persist:
            # Savepoint + unique (run, group): a worker deciding the same group at this moment
            # either inserts first or, after its commit, reads its choice instead of ours.
            with transaction.atomic():
                decision, _ = VariantDecision.all_tenants.get_or_create(
                    run=run,
                    group=group,
                    defaults={
                        "tenant_id": delivery.tenant_id,
                        "chosen_key": chosen,
                        "checks": checks,
                        "decided_at": now,
                    },
                )
        self.decided[key] = decision
        return decision

    def reason_for(self, delivery: Delivery, facts: TenantFacts, now: datetime) -> str:
        """ "" when this member is the group's choice; else why it is skipped."""
        decision = self._decide(delivery, facts, now)
        mine = decision.checks.get(delivery.step.key, {})
        delivery.trace["conditions"] = mine.get("checks", [])
        group, chosen = humanize(decision.group), humanize(decision.chosen_key) if decision.chosen_key else ""
        delivery.trace["variant"] = {
            "group": group,
            "chosen": chosen,
            "decided_at": decision.decided_at.isoformat(),
            "members": [{"step": humanize(key), "why": value["why"]} for key, value in decision.checks.items()],
        }
        if decision.chosen_key == delivery.step.key:
            return ""
        when = f"{decision.decided_at:%-d %b %H:%M} UTC"
        if chosen:
            own = mine.get("why", "not chosen")
            return f"{own} — one of the “{group}” variants, decided together at {when}: “{chosen}” goes instead"
        whys = "; ".join(f"{humanize(key)}: {value['why']}" for key, value in decision.checks.items())
        return f"no “{group}” variant matched at {when} — {whys}"
