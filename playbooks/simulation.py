"""The dry run: what a playbook would do for each selected tenant if it started now — each
step's moment (in the tenant's send window), and whether it would send, be skipped (and
why), be deferred by the daily throttle, or fail to render — from today's facts, with the
days simulated in memory. It reads; it never writes a row or calls a provider.

The decisions are the dispatcher's own (`dispatch.skip_reason`), applied to unsaved rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from tenants.models import Tenant

from .conditions import evaluate, windows_of
from .dispatch import batch_context, skip_reason
from .facts import facts_for_tenants
from .models import CUSTOMER_CHANNELS, MESSAGE_CHANNELS, Delivery, Playbook, Run, Step
from .scheduling import due_at_for, next_window_opening
from .templating import TemplateError, check, render


@dataclass(frozen=True)
class SimulatedStep:
    step: Step
    at: datetime
    action: str  # send, skip, defer, fail
    reason: str
    subject: str


@dataclass
class TenantSimulation:
    tenant: Tenant
    enrolled: bool
    why: str
    steps: list[SimulatedStep] = field(default_factory=list)

    @property
    def tally(self) -> list[tuple[str, int]]:
        """What this tenant's steps would do, for its collapsed line: [("send", 5), ("skip", 1)]."""
        counts: dict[str, int] = {}
        for s in self.steps:
            counts[s.action] = counts.get(s.action, 0) + 1
        return [(action, counts[action]) for action in ("send", "skip", "defer", "fail") if action in counts]


@dataclass
class Simulation:
    playbook: Playbook
    now: datetime
    days: int
    tenants: list[TenantSimulation]

    def count(self, action: str) -> int:
        return sum(1 for t in self.tenants for s in t.steps if s.action == action)

    @property
    def enrolled(self) -> int:
        return sum(t.enrolled for t in self.tenants)


def tenants_for_simulation(selection: str) -> tuple[list[Tenant], list[str]]:
    """“all” (or empty): every tenant that has not churned; else comma-separated external ids.
    Returns the tenants and the ids that match no such tenant."""
    tenants = Tenant.objects.exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED).select_related("csm_owner")
    if selection.strip() in ("", "all"):
        return list(tenants.order_by("name")), []
    ids = [part.strip() for part in selection.split(",") if part.strip()]
    chosen = list(tenants.filter(external_id__in=ids).order_by("name"))
    return chosen, sorted(set(ids) - {t.external_id for t in chosen})


def simulate(*, playbook: Playbook, tenants: list[Tenant], days: int, now: datetime) -> Simulation:
    version = playbook.current
    steps = [s for s in version.steps.all() if s.day <= days]
    definition = version.definition
    windows = windows_of(definition["audience"])
    for step in steps:
        windows |= windows_of(step.conditions) | check(step.subject, field="subject") | check(step.body, field="body")
    facts = facts_for_tenants(tenants, now=now, windows=windows)
    # A rehearsal shows what the playbook would do once enabled: an in-memory copy, never saved.
    rehearsed = Playbook(id=playbook.id, slug=playbook.slug, enabled=True, current=version)
    result = Simulation(playbook, now, days, [])
    planned: list[tuple[TenantSimulation, list[Delivery]]] = []
    for tenant in tenants:
        audience = evaluate(definition["audience"], facts[tenant.id])
        simulation = TenantSimulation(tenant, audience.holds is True, audience.explanation)
        if tenant.lifecycle_stage == Tenant.LifecycleStage.CHURNED:
            simulation.enrolled, simulation.why = False, "the tenant churned"
        result.tenants.append(simulation)
        if not simulation.enrolled:
            continue
        run = Run(tenant=tenant, playbook=rehearsed, version=version, trigger=version.trigger, anchor=now)
        rows = []
        for step in steps:
            nominal, due = due_at_for(step, anchor=now, tenant=tenant, window=definition["send_window"])
            rows.append(Delivery(tenant=tenant, run=run, step=step, nominal_at=nominal, due_at=due, trace={}))
        planned.append((simulation, rows))
    # persist=False: the dry run decides variant groups in memory and writes nothing.
    context = batch_context([d for _, rows in planned for d in rows], persist=False)
    for simulation, rows in planned:
        per_day: dict[object, int] = {}
        for d in sorted(rows, key=lambda d: (d.due_at, d.step.position)):
            result_step = _simulate_one(d, facts[d.tenant_id], context, per_day, definition["send_window"])
            simulation.steps.append(result_step)
    return result


def _simulate_one(d: Delivery, facts, context, per_day: dict, window: dict[str, str]) -> SimulatedStep:
    at = d.due_at
    reason = skip_reason(d, facts, at, context)
    if reason:
        return SimulatedStep(d.step, at, "skip", reason, "")
    if d.step.channel in MESSAGE_CHANNELS and not d.step.transactional:
        local_day = at.astimezone(ZoneInfo(d.tenant.timezone)).date()
        if per_day.get(local_day, 0) >= settings.TOUCHPOINT_DAILY_LIMIT:
            later = next_window_opening(at + timedelta(days=1), tz=d.tenant.timezone, window=window)
            return SimulatedStep(d.step, later, "defer", "daily message limit reached: moves to the next window", "")
        per_day[local_day] = per_day.get(local_day, 0) + 1
    try:
        strict = d.step.channel in CUSTOMER_CHANNELS
        subject = render(d.step.subject or d.step.body, facts, strict=strict)[:120]
        render(d.step.body, facts, strict=strict)
    except TemplateError as exc:
        return SimulatedStep(d.step, at, "fail", f"could not render: {exc}", "")
    return SimulatedStep(d.step, at, "send", "", subject)
