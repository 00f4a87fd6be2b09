"""Writes people make: staff actions in the cockpit (all audited), the owner's in-app
dismissals, survey answers. (Unsubscribes, SMS opt-outs and provider receipts are
messaging.receipts.)"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from core.events import AuditAction, TimelineKind
from core.surveys import survey_link_read
from health.ingest import IngestRejected, events_ingest
from messaging.outbox import message_lock, message_review_settle
from tenants.models import Tenant
from tenants.services import audit_record, timeline_record

from .definitions import parse
from .library import LoadResult, playbook_version_save
from .models import Delivery, InAppMessage, Playbook, Run, Task, TouchpointPause
from .scheduling import runs_cancel
from .templating import SURVEY_SALT

# --- playbooks ----------------------------------------------------------------------------------


def playbook_set_enabled(*, playbook: Playbook, enabled: bool, actor: AbstractBaseUser, now: datetime) -> int:
    """Enables or disables a playbook. Disabling cancels what its active runs had scheduled
    (returns how many runs); nothing new starts until it is enabled again."""
    if playbook.enabled == enabled:
        return 0
    with transaction.atomic():
        playbook.enabled, playbook.updated_at = enabled, now
        playbook.save(update_fields=["enabled", "updated_at"])
        cancelled = 0
        if not enabled:
            runs = list(
                Run.all_tenants.filter(playbook=playbook, status=Run.Status.ACTIVE).select_related(
                    "tenant", "version", "playbook"
                )
            )
            cancelled = runs_cancel(runs=runs, reason=f"playbook disabled by {actor.get_username()}", now=now)
        audit_record(
            actor=actor,
            action=AuditAction.PLAYBOOK_ENABLE if enabled else "playbook.disable",
            target=playbook,
            at=now,
            before={"enabled": not enabled},
            after={"enabled": enabled, "runs_cancelled": cancelled},
        )
    return cancelled


def playbook_edit(*, playbook: Playbook, text: str, actor: AbstractBaseUser, now: datetime) -> LoadResult:
    """Saves a staff edit (YAML) as the next version. Raises DefinitionError with the line."""
    definition = parse(text, source="cockpit", markdown=False)
    return playbook_version_save(
        definition=definition,
        source=f"cockpit ({actor.get_username()})",
        now=now,
        actor=actor,
        expected_slug=playbook.slug,
    )


# --- tenants ------------------------------------------------------------------------------------


def touchpoints_pause(*, tenant: Tenant, actor: AbstractBaseUser, note: str, now: datetime) -> TouchpointPause:
    with transaction.atomic():
        pause, created = TouchpointPause.all_tenants.get_or_create(
            tenant=tenant, defaults={"paused_at": now, "paused_by": actor, "note": note.strip()[:300]}
        )
        if created:
            timeline_record(
                tenant=tenant,
                at=now,
                kind=TimelineKind.TOUCHPOINTS_PAUSED,
                summary=f"All touchpoints paused by {actor.get_username()}" + (f": {pause.note}" if pause.note else ""),
            )
            audit_record(
                actor=actor,
                action=AuditAction.TOUCHPOINTS_PAUSE,
                target=tenant,
                tenant=tenant,
                at=now,
                after={"note": pause.note},
            )
    return pause


def touchpoints_resume(*, tenant: Tenant, actor: AbstractBaseUser, now: datetime) -> bool:
    with transaction.atomic():
        deleted, _ = TouchpointPause.objects.for_tenant(tenant).delete()
        if deleted:
            timeline_record(
                tenant=tenant,
                at=now,
                kind=TimelineKind.TOUCHPOINTS_RESUMED,
                summary=f"Touchpoints resumed by {actor.get_username()}",
            )
            audit_record(actor=actor, action=AuditAction.TOUCHPOINTS_RESUME, target=tenant, tenant=tenant, at=now)
    return bool(deleted)


# --- deliveries a person must decide on -----------------------------------------------------------

REVIEW_DECISIONS = {
    "mark_sent": "It went out (I checked with the provider)",
    "mark_not_sent": "It did not go out: leave it unsent",
    "resend": "It did not go out: send it again now",
}


def delivery_review_decide(
    *, delivery: Delivery, decision: str, note: str, actor: AbstractBaseUser, now: datetime
) -> Delivery:
    if decision not in REVIEW_DECISIONS:
        raise ValidationError({"decision": [f"Choose one of: {', '.join(REVIEW_DECISIONS)}."]})
    if not note.strip():
        raise ValidationError({"note": ["Say what you checked (e.g. “Twilio log shows delivered”)."]})
    with transaction.atomic():
        # The outbox message first, then the delivery: the order the send path locks them in
        # (a late SENT answer for this very message may be recording right now).
        message_lock(message_id=delivery.message_id)
        # Lock the row: two staff deciding at once must not both resend.
        locked = Delivery.all_tenants.select_for_update().get(id=delivery.id)
        if locked.status != Delivery.Status.NEEDS_REVIEW:
            raise ValidationError(
                {"decision": [f"This delivery is {locked.get_status_display().lower()} now, not in review."]}
            )
        if locked.message_id != delivery.message_id:
            # Resent and interrupted again since the page was read: the message we locked is
            # not the one to settle. The person decides again on the current attempt.
            raise ValidationError({"decision": ["This delivery was attempted again meanwhile: reload and decide."]})
        before = {"status": locked.status}
        label = f"{actor.get_username()}: {note.strip()}"[:500]
        if decision == "mark_sent":
            locked.status, locked.sent_at, locked.reason = (
                Delivery.Status.SENT,
                locked.claimed_at,
                f"confirmed sent by {label}",
            )
        elif decision == "mark_not_sent":
            locked.status, locked.reason = Delivery.Status.FAILED, f"confirmed not sent by {label}"
        else:
            locked.status, locked.due_at, locked.reason = Delivery.Status.SCHEDULED, now, f"resend requested by {label}"
        locked.save(update_fields=["status", "sent_at", "reason", "due_at", "updated_at"])
        # The outbox agrees: its message leaves review too (a resend is a new message).
        message_review_settle(
            message_id=locked.message_id, went_out=decision == "mark_sent", reason=locked.reason, now=now
        )
        audit_record(
            actor=actor,
            action=f"delivery.{decision}",
            target=locked,
            tenant=locked.tenant,
            at=now,
            before=before,
            after={"status": locked.status, "note": note.strip()},
        )
        timeline_record(
            tenant=locked.tenant,
            at=now,
            kind=TimelineKind.TOUCHPOINT_REVIEWED,
            summary=f"Interrupted touchpoint reviewed: {REVIEW_DECISIONS[decision].lower()} ({label})",
        )
    return locked


# --- tasks and in-app messages ------------------------------------------------------------------


def task_complete(*, task: Task, actor: AbstractBaseUser, note: str, now: datetime) -> Task:
    with transaction.atomic():
        # Locked: a double submit (or two people at once) completes it once, audited once.
        task = Task.all_tenants.select_for_update(of=("self",)).select_related("tenant").get(id=task.id)
        if task.status == Task.Status.DONE:
            return task
        task.status, task.completed_at, task.completed_by, task.note = Task.Status.DONE, now, actor, note.strip()
        task.save(update_fields=["status", "completed_at", "completed_by", "note"])
        timeline_record(
            tenant=task.tenant,
            at=now,
            kind=TimelineKind.TASK_COMPLETED,
            summary=f"Task done by {actor.get_username()}: {task.title}" + (f" — {task.note}" if task.note else ""),
        )
        audit_record(
            actor=actor,
            action=AuditAction.TASK_COMPLETE,
            target=task,
            tenant=task.tenant,
            at=now,
            after={"note": task.note},
        )
    return task


TASKS_BULK_MAX = 100


def tasks_complete_many(
    *, task_ids: list[int], actor: AbstractBaseUser, note: str, now: datetime
) -> tuple[list[Task], list[tuple[str, str]]]:
    """The ticked tasks done at once, each audited and on its tenant's timeline as a single
    Done would be. A selection read minutes ago may hold tasks someone finished meanwhile:
    those are returned as (title, why) and left alone. Rows are locked in id order, so two
    overlapping selections queue rather than deadlock."""
    if not task_ids:
        raise ValidationError({"ids": ["Tick the tasks to complete first."]})
    if len(task_ids) > TASKS_BULK_MAX:
        raise ValidationError(
            {"ids": [f"Complete at most {TASKS_BULK_MAX} tasks at once; {len(task_ids)} were ticked."]}
        )
    done: list[Task] = []
    skipped: list[tuple[str, str]] = []
    with transaction.atomic():
        rows = Task.all_tenants.filter(id__in=task_ids).select_related("tenant").select_for_update(of=("self",))
        locked = {t.id: t for t in rows.order_by("id")}
        for task_id in dict.fromkeys(task_ids):
            task = locked.get(task_id)
            if task is None:
                skipped.append((f"Task {task_id}", "no longer exists"))
            elif task.status == Task.Status.DONE:
                skipped.append((task.title, "done meanwhile"))
            else:
                done.append(task_complete(task=task, actor=actor, note=note, now=now))
    return done, skipped


SCREENSHARE_TITLE = "Schedule a screenshare with {name} and complete setup live"


def screenshare_task_create(*, tenant: Tenant, actor: AbstractBaseUser, now: datetime) -> tuple[Task, bool]:
    """Seed 000's escalation for a stalled onboarding: a screenshare to finish setup live, for
    the tenant's CSM (or the person who asked). One open such task per tenant: asking again
    returns the open one (created False)."""
    title = SCREENSHARE_TITLE.format(name=tenant.name)
    with transaction.atomic():
        open_task = Task.objects.for_tenant(tenant).filter(status=Task.Status.OPEN, title=title).first()
        if open_task is not None:
            return open_task, False
        task = Task.objects.create(
            tenant=tenant,
            title=title,
            body="Onboarding is stalled: required milestones are overdue. Call the owner "
            f"({tenant.owner_name or tenant.owner_email}), book a screenshare and complete the setup together.",
            assignee=tenant.csm_owner or actor,
            role="csm",
            due_at=now + timedelta(days=1),
            created_at=now,
        )
        timeline_record(
            tenant=tenant, at=now, kind=TimelineKind.TASK_CREATED, summary=f"Task for {task.assignee}: {title}"
        )
        audit_record(
            actor=actor, action=AuditAction.TASK_CREATE, target=task, tenant=tenant, at=now, after={"title": title}
        )
    return task, True


TASK_TITLE_MAX = 300  # Task.title


def task_create(
    *,
    tenant: Tenant,
    title: str,
    due_at: datetime,
    assignee: AbstractBaseUser | None,
    body: str = "",
    actor: AbstractBaseUser,
    now: datetime,
) -> Task:
    """A task a person makes on a tenant's page (“call the new admin”), for someone on the CS
    team or, without an assignee, for the CSM queue. Audited and on the timeline."""
    title = " ".join(title.split())
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = ["Say what is to be done."]
    elif len(title) > TASK_TITLE_MAX:
        errors["title"] = [f"A task title holds at most {TASK_TITLE_MAX} characters; this one has {len(title)}."]
    if due_at < now - timedelta(days=1):
        errors["due_at"] = ["The due date is in the past: choose today or later."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        task = Task.objects.create(
            tenant=tenant,
            title=title,
            body=body.strip(),
            assignee=assignee,
            role="csm",  # the queue it waits in if it is ever unassigned
            due_at=due_at,
            created_at=now,
        )
        who = assignee.get_username() if assignee else "the CSM queue"
        timeline_record(tenant=tenant, at=now, kind=TimelineKind.TASK_CREATED, summary=f"Task for {who}: {title}")
        audit_record(
            actor=actor,
            action=AuditAction.TASK_CREATE,
            target=task,
            tenant=tenant,
            at=now,
            after={"title": title, "assignee": assignee.get_username() if assignee else None, "due_at": due_at},
        )
    return task


def in_app_dismiss(*, message: InAppMessage, user: AbstractBaseUser, now: datetime) -> None:
    if message.dismissed_at is None:
        InAppMessage.objects.for_tenant(message.tenant).filter(id=message.id, dismissed_at__isnull=True).update(
            dismissed_at=now, dismissed_by=user
        )


# --- the NPS survey link ------------------------------------------------------------------------


def survey_tenant(*, token: str) -> Tenant:
    payload = survey_link_read(token, salt=SURVEY_SALT)
    tenant = Tenant.objects.filter(id=payload.get("tenant")).first()
    if tenant is None:
        raise ValidationError("This survey link is not valid.")
    return tenant


def survey_key(token: str) -> str:
    return f"nps-survey:{hashlib.sha256(token.encode()).hexdigest()[:40]}"


PROMOTER_FROM = 9


def nps_survey_submit(*, token: str, score: Any, comment: str, now: datetime) -> tuple[Tenant, bool]:
    """Records the answer as an `nps.submitted` event through the ingest service, so it feeds
    the health score's sentiment like any NPS from the product. One answer per link: returns
    whether this one was recorded (False: the link had been answered). A promoter's answer
    (9 or 10) also gives their CSM a task to ask for a review or testimonial — in the same
    transaction as the answer, so one answer makes one ask."""
    tenant = survey_tenant(token=token)
    try:
        value = int(str(score))
    except ValueError:
        value = -1
    if not 0 <= value <= 10:
        raise ValidationError({"score": ["Pick a score from 0 to 10."]})
    remark = comment.strip()[:1000]
    event = {
        "tenant": tenant.external_id,
        "name": "nps.submitted",
        "occurred_at": now.isoformat(),
        "properties": {"score": value, "comment": remark, "source": "survey"},
        # One answer per link: the same link submitted twice is a duplicate, not a second vote.
        "idempotency_key": survey_key(token),
    }
    try:
        with transaction.atomic():
            stored = events_ingest(events=[event], bound_tenant=None, now=now).accepted == 1
            if stored and value >= PROMOTER_FROM:
                _promoter_ask(tenant=tenant, score=value, comment=remark, now=now)
    except IngestRejected as exc:
        raise ValidationError({"score": [e.message for e in exc.errors]}) from None
    return tenant, stored


def _promoter_ask(*, tenant: Tenant, score: int, comment: str, now: datetime) -> None:
    """Seed 000 Day 30 and seed 001's review program: a promoter is asked for a review or a
    testimonial while the good experience is fresh, and is an advocacy candidate."""
    quote = f"\n\nTheir words: “{comment}”" if comment else ""
    Task.objects.create(
        tenant=tenant,
        title=f"Ask {tenant.name} for a review or testimonial (NPS {score})"[:300],
        body="They just answered the NPS survey as a promoter. Thank them, ask for a public review "
        "and whether we may quote them or write a case study together." + quote,
        assignee=tenant.csm_owner,
        role="csm",
        due_at=now + timedelta(days=3),
        created_at=now,
    )
    timeline_record(
        tenant=tenant,
        at=now,
        kind=TimelineKind.PROMOTER,
        summary=f"NPS {score}: a promoter — review and testimonial ask for the CSM",
        data={"score": score},
    )
