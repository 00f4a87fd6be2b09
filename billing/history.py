"""Folding a subscription's history into its state — the one place that decides what
“newest” means, so the mirror, the recovery report and the revenue figures agree.

Order: Stripe's event time; within the same second a payment after the object it paid, then
the further-along status (`STATUS_RANK`), then the event id — a total order that does not
depend on arrival, which is what makes every permutation of the same events give the same
mirror.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from .models import BILLING_STATUSES, PAST_DUE_STATUSES, SubscriptionChange, SubscriptionStatus

STATUS_RANK = {
    SubscriptionStatus.INCOMPLETE: 0,
    SubscriptionStatus.INCOMPLETE_EXPIRED: 1,
    SubscriptionStatus.TRIALING: 2,
    SubscriptionStatus.ACTIVE: 3,
    SubscriptionStatus.PAUSED: 4,
    SubscriptionStatus.PAST_DUE: 5,
    SubscriptionStatus.UNPAID: 6,
    SubscriptionStatus.CANCELED: 7,
}
KIND_ORDER = {SubscriptionChange.Kind.OBJECT: 0, SubscriptionChange.Kind.FAILED: 1, SubscriptionChange.Kind.PAID: 2}


@dataclass(frozen=True)
class State:
    at: datetime
    status: str
    price_id: str
    quantity: int
    currency: str
    list_mrr_cents: int
    current_period_start: datetime | None
    current_period_end: datetime | None
    trial_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    past_due_since: datetime | None
    cancel_at: datetime | None = None
    ended_at: datetime | None = None
    cancellation_reason: str = ""
    # The status it was canceled from: trialing is a lapsed trial, past_due or unpaid a
    # cancellation for failed payments (the churn reason's default).
    ended_from: str = ""

    @property
    def mrr_cents(self) -> int:
        return self.list_mrr_cents if self.status in BILLING_STATUSES else 0


@dataclass(frozen=True)
class Episode:
    """One stretch of past due (or unpaid): when it began and how it ended, if it has."""

    started_at: datetime
    ended_at: datetime | None = None
    outcome: str = ""  # "recovered", "canceled" or "" while it lasts


def change_order(change: SubscriptionChange) -> tuple:
    return (
        change.at,
        KIND_ORDER[change.kind],
        STATUS_RANK.get(change.status, -1),
        change.event.event_id,  # callers select_related("event")
    )


def _from_object(state: State | None, change: SubscriptionChange) -> State:
    since = None
    if change.status in PAST_DUE_STATUSES:
        # past_due → unpaid is the same episode: it keeps its start.
        continuing = state is not None and state.status in PAST_DUE_STATUSES and state.past_due_since
        since = state.past_due_since if continuing else change.at
    ended_from = ""
    if change.status == SubscriptionStatus.CANCELED and state is not None:
        ended_from = state.ended_from if state.status == SubscriptionStatus.CANCELED else state.status
    return State(
        at=change.at,
        status=change.status,
        price_id=change.price_id,
        quantity=change.quantity,
        currency=change.currency,
        list_mrr_cents=change.list_mrr_cents,
        current_period_start=change.current_period_start,
        current_period_end=change.current_period_end,
        trial_end=change.trial_end,
        cancel_at_period_end=change.cancel_at_period_end,
        canceled_at=change.canceled_at,
        past_due_since=since,
        cancel_at=change.cancel_at,
        ended_at=change.ended_at,
        cancellation_reason=change.cancellation_reason,
        ended_from=ended_from,
    )


def states(changes: Iterable[SubscriptionChange]) -> Iterator[State]:
    """The subscription's state after each change that moved it, oldest first."""
    state: State | None = None
    newest_failed: datetime | None = None  # created time of the newest invoice that failed, unpaid
    for change in sorted(changes, key=change_order):
        if change.kind == SubscriptionChange.Kind.FAILED:
            if newest_failed is None or (change.invoice_created and change.invoice_created > newest_failed):
                newest_failed = change.invoice_created or change.at
            continue
        if change.kind == SubscriptionChange.Kind.PAID:
            if newest_failed and change.invoice_created and change.invoice_created < newest_failed:
                continue  # an older invoice was paid; Stripe keeps it past due for the newest one
            newest_failed = None
            # Paying the open invoice is what brings a past-due subscription back; Stripe also
            # sends the subscription's own update, but a lost one must not leave it past due.
            if state is not None and state.status in PAST_DUE_STATUSES:
                state = replace(state, at=change.at, status=SubscriptionStatus.ACTIVE, past_due_since=None)
                yield state
            continue
        if change.status not in PAST_DUE_STATUSES:
            newest_failed = None  # Stripe says it is settled (paid, voided, or canceled)
        state = _from_object(state, change)
        yield state


def fold(changes: Iterable[SubscriptionChange]) -> State | None:
    state = None
    for state in states(changes):  # noqa: B007 (the last one is the answer)
        pass
    return state


def episodes(changes: Iterable[SubscriptionChange]) -> list[Episode]:
    """Its past-due episodes in order; the last one may still be open."""
    found: list[Episode] = []
    for state in states(changes):
        current = found[-1] if found and found[-1].ended_at is None else None
        if state.status in PAST_DUE_STATUSES:
            if current is None:
                found.append(Episode(started_at=state.past_due_since or state.at))
        elif current is not None:
            outcome = "canceled" if state.status == SubscriptionStatus.CANCELED else "recovered"
            found[-1] = replace(current, ended_at=state.at, outcome=outcome)
    return found
