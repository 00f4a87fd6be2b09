"""Bulk actions on the alert queue: acknowledge, snooze or assign the alerts a person ticked.

A selection is read from a page that may be minutes old: some alerts may have been resolved,
acknowledged or snoozed by someone else meanwhile. Those are not errors — each is reported
with why it no longer qualified, and the rest are changed. The whole selection is one
transaction, its rows locked in id order (two people bulk-acting on overlapping selections
queue, never deadlock); each change goes through the single-alert service, so it is audited
and on the timeline exactly as a click on its row would be."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .models import Alert
from .selectors import alerts_visible_to
from .services import AlertActionError, alert_acknowledge, alert_assign, alert_snooze, snooze_end_check

BULK_ACTIONS = {"acknowledge": "Acknowledge", "snooze": "Snooze", "assign": "Assign"}
BULK_DONE = {"acknowledge": "acknowledged", "snooze": "snoozed", "assign": "assigned"}
BULK_MAX = 100  # four pages of the queue; a larger sweep is a rule change, not a selection


@dataclass
class BulkOutcome:
    changed: list[Alert] = field(default_factory=list)
    # (what it is, why it was left alone), in the order of the selection
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _label(alert: Alert) -> str:
    return f"{alert.tenant.name} – {alert.rule.name}"


def _why_not(alert: Alert, action: str, assignee_id: int | None) -> str:
    if alert.status == Alert.Status.RESOLVED:
        return "resolved meanwhile"
    if action == "acknowledge" and alert.status == Alert.Status.ACKNOWLEDGED:
        return "already acknowledged"
    if action == "assign" and alert.assignee_id == assignee_id:
        return "already assigned there"
    return ""


def alerts_bulk_act(
    *,
    user: AbstractBaseUser,
    alert_ids: list[int],
    action: str,
    now: datetime,
    until: datetime | None = None,
    assignee_id: int | None = None,
) -> BulkOutcome:
    """Apply `action` to each alert of `alert_ids` the user can see and that still qualifies.
    Refuses (AlertActionError, nothing changed) an unknown action, an empty or oversized
    selection, a snooze without a valid end, an assignee who cannot take the alerts."""
    if action not in BULK_ACTIONS:
        raise AlertActionError(f"“{action}” is not a bulk action: choose acknowledge, snooze or assign.")
    if not alert_ids:
        raise AlertActionError("Tick the alerts to act on first.")
    if len(alert_ids) > BULK_MAX:
        raise AlertActionError(f"Act on at most {BULK_MAX} alerts at once; {len(alert_ids)} were ticked.")
    if action == "snooze":
        if until is None:
            raise AlertActionError("Say until when to snooze: pick a choice or a date and time.")
        snooze_end_check(until=until, now=now)
    outcome = BulkOutcome()
    with transaction.atomic():
        locked = {
            a.id: a
            for a in alerts_visible_to(user)
            .filter(id__in=alert_ids)
            .select_related("tenant", "rule")
            .select_for_update(of=("self",))
            .order_by("id")
        }
        for alert_id in dict.fromkeys(alert_ids):
            alert = locked.get(alert_id)
            if alert is None:
                outcome.skipped.append((f"Alert {alert_id}", "not in your queues"))
                continue
            why = _why_not(alert, action, assignee_id)
            if why:
                outcome.skipped.append((_label(alert), why))
                continue
            try:
                if action == "acknowledge":
                    alert = alert_acknowledge(alert=alert, actor=user, now=now)
                elif action == "snooze":
                    alert = alert_snooze(alert=alert, actor=user, until=until, now=now)  # type: ignore[arg-type]
                else:
                    alert = alert_assign(alert=alert, actor=user, assignee_id=assignee_id, now=now)
            except AlertActionError as exc:
                # Refused before it wrote anything (e.g. the assignee does not work this
                # alert's queue): this alert is left as it was, the others go on.
                outcome.skipped.append((_label(alert), str(exc)))
                continue
            outcome.changed.append(alert)
    return outcome
