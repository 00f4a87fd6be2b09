"""The renewal runway (seed 002, "Renewal Defense: the 120-day start"): from 120 days before a
contract ends, one CSM task per step — health review at 120, QBR at 90, proposal at 60,
signature at 30 — each created once, on its day.

A step is due while the days left are in its window: (90, 120] for the health review, (60, 90]
for the QBR, and so on. A date set late (45 days out) starts at the step it is in; the steps
already behind it are not made (four tasks at once would be noise, and their moment passed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from core.events import TimelineKind
from playbooks.models import Task
from tenants.models import Tenant
from tenants.services import timeline_record

from .models import RenewalStep


@dataclass(frozen=True)
class RunwayStep:
    days_before: int
    title: str  # "{name}" is the tenant's name
    body: str


RUNWAY = [
    RunwayStep(
        120,
        "Renewal in 120 days: health review for {name}",
        "The contract ends on {ends}. Put the renewal health pack together — usage, outcomes and "
        "ROI, incidents, support history, the health trend — and name an owner for each step "
        "of the runway: QBR at 90 days, proposal at 60, signature at 30.",
    ),
    RunwayStep(
        90,
        "Renewal in 90 days: QBR with {name}",
        "Book the quarterly business review before {ends}'s renewal: the value delivered, the "
        "next use case they commit to, and the renewal timeline.",
    ),
    RunwayStep(
        60,
        "Renewal in 60 days: send {name} the renewal proposal",
        "Plan, price and term for the contract ending {ends}. A concession needs approval and an expiry date.",
    ),
    RunwayStep(
        30,
        "Renewal in 30 days: get {name}'s signature",
        "The contract ends on {ends}. Chase the signature; if the renewal is at risk, start the "
        "save play and bring in an executive sponsor.",
    ),
]
TASK_TIME = timedelta(days=7)  # each step's task is due a week after its day


def window(index: int) -> tuple[int, int]:
    """Days left (exclusive low, inclusive high) in which RUNWAY[index] is the current step."""
    later = RUNWAY[index + 1].days_before if index + 1 < len(RUNWAY) else 0
    return later, RUNWAY[index].days_before


def renewal_runway_advance(*, now: datetime) -> int:
    """Creates the task of every runway step whose day has come and that has not been made for
    this contract end date. Cheap when nothing is due: one indexed query per step."""
    today = now.date()
    made = 0
    # Most ticks find no contract in the runway at all: one indexed query says so.
    in_runway = Tenant.objects.filter(
        contract_ends_on__gt=today, contract_ends_on__lte=today + timedelta(days=RUNWAY[0].days_before)
    )
    if not in_runway.exists():
        return 0
    for index, step in enumerate(RUNWAY):
        low, high = window(index)
        due = (
            Tenant.objects.exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
            .filter(
                contract_ends_on__gt=today + timedelta(days=low), contract_ends_on__lte=today + timedelta(days=high)
            )
            .exclude(
                Exists(
                    RenewalStep.all_tenants.filter(
                        tenant_id=OuterRef("pk"), contract_ends_on=OuterRef("contract_ends_on"), days_before=high
                    )
                )
            )
            .select_related("csm_owner")
            .order_by("id")
        )
        for tenant in due:
            made += _make_step(tenant=tenant, step=step, ends_on=tenant.contract_ends_on, now=now)
    return made


def _make_step(*, tenant: Tenant, step: RunwayStep, ends_on: date, now: datetime) -> int:
    """The step's row and its task in one transaction: a task exists exactly when its row does."""
    try:
        with transaction.atomic():
            # Two ticks at once both found this step missing: the unique constraint lets one
            # insert; the other's INSERT fails here, its savepoint rolls back, and it makes no task.
            row = RenewalStep.objects.create(
                tenant=tenant, contract_ends_on=ends_on, days_before=step.days_before, created_at=now
            )
            task = Task.objects.create(
                tenant=tenant,
                title=step.title.format(name=tenant.name)[:300],
                body=step.body.format(ends=f"{ends_on:%-d %b %Y}"),
                assignee=tenant.csm_owner,
                role="csm",
                due_at=now + TASK_TIME,
                created_at=now,
            )
            row.task = task
            row.save(update_fields=["task"])
            timeline_record(
                tenant=tenant,
                at=now,
                kind=TimelineKind.RENEWAL_STEP,
                summary=f"Renewal runway: {task.title}",
                data={"days_before": step.days_before, "contract_ends_on": ends_on.isoformat(), "task": task.id},
            )
    except IntegrityError:
        return 0
    return 1
