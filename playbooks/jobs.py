"""Periodic jobs of the playbooks app, run by the tick after onboarding and health have
brought the facts up to date (order 40+)."""

from datetime import datetime

from core import ticks

from . import alerts, dispatch, notify, scheduling


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


# Escalation rules run after health and onboarding (order 15–20) have brought their facts up
# to date, and before the playbook runs (40) so a playbook an alert starts sends this tick.
@ticks.register("playbooks.alerts", order=30)
def evaluate_rules(now: datetime) -> str:
    return alerts.rules_evaluate(now=now).summary()


@ticks.register("playbooks.alert_sla", order=31)
def check_sla(now: datetime) -> str:
    breached, woken = alerts.alerts_check_sla(now=now)
    return f"{breached} alert(s) past their SLA escalated, {woken} snooze(s) ended"


@ticks.register("playbooks.alert_digests", order=32)
def create_digests(now: datetime) -> str:
    return f"{notify.digests_create(now=now)} digest(s) to send"


@ticks.register("playbooks.alert_notify", order=43)
def send_notifications(now: datetime) -> str:
    swept = notify.notifications_sweep_stuck(now=now)
    return notify.notifications_dispatch(now=now).summary() + f", {swept} interrupted"
