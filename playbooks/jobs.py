"""Periodic jobs of the playbooks app, run by the tick after onboarding, health and the
escalation rules have brought the facts up to date (order 40+): an alert opened this tick
starts its playbook this tick."""

from datetime import datetime

from core import ticks

from . import dispatch, scheduling


@ticks.register("playbooks.runs", order=40)
def reconcile_runs(now: datetime) -> str:
    result = scheduling.runs_reconcile(now=now)
    return (
        f"{result.started} run(s) started, {result.cancelled} cancelled, {result.completed} completed, "
        f"{result.waiting_unknown} tenant(s) waiting on unknown facts"
    )


@ticks.register("playbooks.dispatch", order=41)
def dispatch_due(now: datetime) -> str:
    return dispatch.deliveries_dispatch_due(now=now).summary()


@ticks.register("playbooks.sweep", order=42)
def sweep_interrupted(now: datetime) -> str:
    return f"{dispatch.deliveries_sweep_stuck(now=now)} interrupted send(s) moved to needs review"
