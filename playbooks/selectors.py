"""Reads of the playbooks app. Tenant-facing reads take the tenant (or the user whose
tenants bound them) first; staff-wide reads say so in their name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from alerts.models import AlertRule
from alerts.rules import RULES
from health.selectors import event_by_key
from messaging.models import Suppression
from tenants.models import Membership, Tenant

from .facts import EventWindow, facts_for_tenants
from .models import Channel, Delivery, InAppMessage, Playbook, PlaybookVersion, Run, Task, TouchpointPause, Trigger
from .templating import check, render_for_reading

OPEN_STATUSES = [Delivery.Status.SCHEDULED, Delivery.Status.SENDING]


# --- one tenant -------------------------------------------------------------------------------


def touchpoints_for_tenant(*, tenant: Tenant) -> QuerySet[Delivery]:
    return (
        Delivery.objects.for_tenant(tenant)
        .select_related("step", "run__playbook", "run__version")
        .order_by("nominal_at", "step__position", "id")
    )


def touchpoints_api(*, tenant: Tenant) -> list[dict[str, Any]]:
    """The API's touchpoint list (CONTRACTS.md)."""
    return [
        {
            "playbook": d.run.playbook.slug,
            "step": d.step.key,
            "day": d.step.day,
            "channel": d.step.channel,
            "due_at": d.due_at,
            "status": d.status,
            "sent_at": d.sent_at,
            "reason": d.reason,
        }
        for d in touchpoints_for_tenant(tenant=tenant)
    ]


def runs_for_tenant(*, tenant: Tenant) -> QuerySet[Run]:
    return (
        Run.objects.for_tenant(tenant)
        .select_related("playbook", "version", "started_by")
        .annotate(
            open_count=Count("deliveries", filter=Q(deliveries__status__in=OPEN_STATUSES)),
            sent_count=Count(
                "deliveries", filter=Q(deliveries__status__in=[Delivery.Status.SENT, Delivery.Status.DELIVERED])
            ),
        )
        .order_by("-started_at")
    )


def deliveries_with_previews(*, tenant: Tenant, deliveries: list[Delivery], now: datetime) -> list[Delivery]:
    """Sets `preview_subject` and `preview_body` on each delivery that was never rendered (not
    sent yet, or skipped before it was): its templates with this tenant's values as of `now`,
    so a person reads what the tenant would get, never “{{ owner_first_name }}”. Sent ones keep
    what was rendered at send time."""
    unrendered = [d for d in deliveries if not d.rendered_subject and not d.rendered_body]
    windows: set[EventWindow] = set()
    for d in unrendered:
        windows |= check(d.step.subject, field="subject") | check(d.step.body, field="body")
    facts = facts_for_tenants([tenant], now=now, windows=windows).get(tenant.id) if unrendered else None
    for d in deliveries:
        d.preview_subject, d.preview_body = d.rendered_subject, d.rendered_body
    for d in unrendered:
        d.preview_subject = " ".join(render_for_reading(d.step.subject, facts).split())
        d.preview_body = render_for_reading(d.step.body, facts)
    return deliveries


def tenant_touchpoint_state(*, tenant: Tenant, now: datetime) -> dict[str, Any]:
    """The tenant page's touchpoint section: pause, runs, what is next, the suppressions."""
    deliveries = list(touchpoints_for_tenant(tenant=tenant))
    deliveries_with_previews(tenant=tenant, deliveries=deliveries, now=now)
    suppressions = {
        s.channel: s
        for s in Suppression.objects.filter(
            Q(channel="sms", address=tenant.owner_phone or "-") | Q(channel="email", address=tenant.owner_email.lower())
        )
    }
    return {
        "pause": TouchpointPause.objects.for_tenant(tenant).select_related("paused_by").first(),
        "runs": list(runs_for_tenant(tenant=tenant)),
        "upcoming": [d for d in deliveries if d.status in OPEN_STATUSES],
        "recent": sorted(
            (d for d in deliveries if d.status not in OPEN_STATUSES), key=lambda d: d.updated_at, reverse=True
        )[:20],
        "phone_suppression": suppressions.get("sms"),
        "email_suppression": suppressions.get("email"),
        "tasks": list(Task.objects.for_tenant(tenant).filter(status=Task.Status.OPEN).select_related("assignee")),
        "playbooks": list(Playbook.objects.filter(enabled=True).select_related("current").order_by("slug")),
    }


# --- tenant users -----------------------------------------------------------------------------


def _tenant_ids_of(user: AbstractBaseUser) -> QuerySet:
    return Membership.all_tenants.filter(user=user).values("tenant_id")


def in_app_messages_for_user(*, user: AbstractBaseUser) -> list[InAppMessage]:
    if not user.is_authenticated:
        return []
    return list(
        InAppMessage.all_tenants.filter(tenant_id__in=_tenant_ids_of(user), dismissed_at__isnull=True).order_by(
            "-created_at"
        )[:5]
    )


def in_app_message_get(*, user: AbstractBaseUser, message_id: int) -> InAppMessage | None:
    return (
        InAppMessage.all_tenants.filter(tenant_id__in=_tenant_ids_of(user), id=message_id)
        .select_related("tenant")
        .first()
    )


# --- staff-wide -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaybookRow:
    playbook: Playbook
    active_runs: int
    sent_30d: int
    scheduled: int


def playbooks_for_staff(*, now: datetime) -> list[PlaybookRow]:
    playbooks = list(Playbook.objects.select_related("current").order_by("slug"))
    active = dict(
        Run.all_tenants.filter(status=Run.Status.ACTIVE)
        .values("playbook_id")
        .annotate(n=Count("id"))
        .values_list("playbook_id", "n")
        .order_by()
    )
    deliveries = (
        Delivery.all_tenants.values("run__playbook_id")
        .annotate(
            sent=Count(
                "id",
                filter=Q(
                    status__in=[Delivery.Status.SENT, Delivery.Status.DELIVERED], sent_at__gte=now - timedelta(30)
                ),
            ),
            scheduled=Count("id", filter=Q(status=Delivery.Status.SCHEDULED)),
        )
        .order_by()
    )
    counts = {row["run__playbook_id"]: row for row in deliveries}
    return [
        PlaybookRow(
            p,
            active.get(p.id, 0),
            counts.get(p.id, {}).get("sent", 0),
            counts.get(p.id, {}).get("scheduled", 0),
        )
        for p in playbooks
    ]


def playbook_get_for_staff(*, slug: str) -> Playbook:
    playbook = Playbook.objects.select_related("current", "current__created_by").filter(slug=slug).first()
    if playbook is None:
        raise Http404(f"No playbook “{slug}”.")
    return playbook


def playbook_versions(*, playbook: Playbook) -> QuerySet[PlaybookVersion]:
    return playbook.versions.select_related("created_by").annotate(run_count=Count("runs")).order_by("-number")


def delivery_get_for_staff(*, delivery_id: int) -> Delivery:
    delivery = (
        Delivery.all_tenants.select_related("step", "run__playbook", "run__version", "run__started_by", "tenant")
        .filter(id=delivery_id)
        .first()
    )
    if delivery is None:
        raise Http404("No such delivery.")
    return delivery


def deliveries_needing_review() -> QuerySet[Delivery]:
    return (
        Delivery.all_tenants.filter(status=Delivery.Status.NEEDS_REVIEW)
        .select_related("step", "run__playbook", "run__version", "tenant")
        .order_by("claimed_at")
    )


def needs_review_count() -> int:
    return Delivery.all_tenants.filter(status=Delivery.Status.NEEDS_REVIEW).count()


TASK_SCOPES = {"mine": "Mine", "queue": "My role queues", "all": "All open"}


TASK_SORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "due": ("Due soonest first", ("due_at", "id")),
    "newest": ("Newest first", ("-created_at", "-id")),
    "tenant": ("Tenant A–Z", ("tenant__name", "due_at", "id")),
}


def tasks_for_staff(*, user: AbstractBaseUser, roles: frozenset[str], scope: str, sort: str = "due") -> QuerySet[Task]:
    tasks = Task.all_tenants.filter(status=Task.Status.OPEN).select_related("tenant", "assignee")
    if scope == "mine":
        tasks = tasks.filter(assignee=user)
    elif scope == "queue":
        tasks = tasks.filter(assignee__isnull=True, role__in=roles)
    return tasks.order_by(*TASK_SORTS[sort][1])


def open_tasks_by_assignee() -> dict[int, int]:
    rows = Task.all_tenants.filter(status=Task.Status.OPEN, assignee__isnull=False).values_list("assignee_id")
    return dict(rows.annotate(n=Count("id")).order_by())


def task_get_for_staff(*, task_id: int) -> Task:
    task = Task.all_tenants.select_related("tenant", "assignee").filter(id=task_id).first()
    if task is None:
        raise Http404("No such task.")
    return task


def tasks_due_for_digest(*, user: AbstractBaseUser, until: datetime) -> dict[str, list[Task]]:
    """The morning digest's tasks (alerts.hooks): this person's open tasks due before `until`."""
    tasks = (
        Task.all_tenants.filter(assignee=user, status=Task.Status.OPEN, due_at__lt=until)
        .select_related("tenant")
        .order_by("due_at")
    )
    return {"tasks": list(tasks)}


def playbook_not_raised_yet(playbook: Playbook) -> str | None:
    """Why nothing starts this playbook by itself, if nothing does: its alert rule does not
    exist or is disabled."""
    version = playbook.current
    if version.trigger != Trigger.ALERT:
        return None
    spec, rule = RULES.get(version.trigger_rule), AlertRule.objects.filter(slug=version.trigger_rule).first()
    if spec is None:
        return f"there is no alert rule “{version.trigger_rule}”"
    if rule is not None and not rule.enabled:
        return f"the “{spec.name}” rule is disabled"
    return None


def playbook_find(*, slug: str) -> Playbook | None:
    return Playbook.objects.select_related("current").filter(slug=slug).first()


def playbook_version_or_current(*, playbook: Playbook, number: int | None) -> PlaybookVersion:
    """Version `number` of the playbook; its current version when none is asked for or there
    is no such number."""
    version = playbook.versions.filter(number=number).first() if number else None
    return version or playbook.current


# --- Touchpoints across tenants: what went out, what failed, what waits for a person ----------

# Each outcome is a status set and the timestamp that says when it happened, so "today" means
# sent today, failed today, interrupted today. A failed delivery is never saved again, so its
# updated_at is when it failed.
TOUCHPOINT_OUTCOMES: dict[str, tuple[str, list[str], str]] = {
    "sent": ("Sent", [Delivery.Status.SENT, Delivery.Status.DELIVERED], "sent_at"),
    "failed": ("Failed", [Delivery.Status.FAILED], "updated_at"),
    "needs_review": ("Needs review", [Delivery.Status.NEEDS_REVIEW], "claimed_at"),
    "scheduled": ("Scheduled", [Delivery.Status.SCHEDULED], "due_at"),
}


def touchpoints_for_staff(
    *, outcome: str, since: datetime | None, until: datetime | None, csm: str
) -> QuerySet[Delivery]:
    """Deliveries to customers (email, SMS, in-app, webhook) with one outcome, newest first,
    optionally within [since, until) of the time that outcome happened (sent_at for sent, …)
    and for one CSM's book ("" for everyone)."""
    _, statuses, when = TOUCHPOINT_OUTCOMES[outcome]
    # A task step "sends" by opening a task for a person: those are on the task list, not here.
    rows = Delivery.all_tenants.filter(status__in=statuses).exclude(step__channel=Channel.TASK)
    if since is not None:
        rows = rows.filter(**{f"{when}__gte": since})
    if until is not None:
        rows = rows.filter(**{f"{when}__lt": until})
    if csm:
        rows = rows.filter(tenant__csm_owner_id=int(csm))
    order = when if outcome == "scheduled" else f"-{when}"
    return rows.select_related("step", "run__version", "tenant").order_by(order, "-id")


def survey_answer_of(*, tenant: Tenant, key: str) -> int | None:
    """The score a survey link already gave (its answer's idempotency key), or None."""
    event = event_by_key(tenant=tenant, idempotency_key=key)
    score = event.properties.get("score") if event else None
    return int(score) if isinstance(score, (int, float)) else None
