"""Periodic jobs of the alerts app. Escalation rules run after health and onboarding (order
15–20) have brought their facts up to date, and before the playbook runs (40), so a playbook
an alert starts sends this tick. Their messages leave through the outbox (messaging.dispatch,
43)."""

from datetime import datetime

from core import ticks

from . import notify, services


@ticks.register("alerts.evaluate", order=30)
def evaluate_rules(now: datetime) -> str:
    return services.rules_evaluate(now=now).summary()


@ticks.register("alerts.sla", order=31)
def check_sla(now: datetime) -> str:
    breached, woken = services.alerts_check_sla(now=now)
    return f"{breached} alert(s) past their SLA escalated, {woken} snooze(s) ended"


@ticks.register("alerts.digests", order=32)
def create_digests(now: datetime) -> str:
    return f"{notify.digests_create(now=now)} digest(s) to send"
