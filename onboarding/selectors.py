"""Reads of the onboarding app, tenant first."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from tenants.models import Tenant

from .models import Milestone, MilestoneProgress, OnboardingTemplate, TenantOnboarding
from .steps import answers as step_answers


@dataclass(frozen=True)
class ChecklistItem:
    milestone: Milestone
    progress: MilestoneProgress | None
    due_at: datetime

    @property
    def done(self) -> bool:
        return self.progress is not None

    def overdue(self, now: datetime) -> bool:
        return self.progress is None and self.milestone.required and self.due_at <= now

    @property
    def answers(self) -> list[tuple[str, str]]:
        """What the owner entered in the wizard step, labelled as the form asked for it."""
        if self.progress is None or not self.progress.data:
            return []
        return step_answers(self.milestone.step, self.progress.data)


@dataclass(frozen=True)
class Checklist:
    onboarding: TenantOnboarding
    items: list[ChecklistItem]

    @property
    def completed(self) -> int:
        return sum(item.done for item in self.items)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def percent(self) -> int:
        return round(self.completed * 100 / self.total) if self.total else 100

    @property
    def first_value_at(self) -> datetime | None:
        """When first value was reached, clamped to the signup (see days_to_first_value)."""
        reached = self.onboarding.first_value_at
        return max(reached, self.onboarding.started_at) if reached else None

    def next_open(self, *, completion: str | None = None) -> ChecklistItem | None:
        return next(
            (i for i in self.items if not i.done and (completion is None or i.milestone.completion == completion)), None
        )


def checklist_for(*, tenant: Tenant) -> Checklist | None:
    onboarding = TenantOnboarding.objects.for_tenant(tenant).select_related("template").first()
    if onboarding is None:
        return None
    progress = {p.milestone_id: p for p in MilestoneProgress.objects.for_tenant(tenant).select_related("completed_by")}
    items = [
        ChecklistItem(m, progress.get(m.id), onboarding.started_at + timedelta(days=m.expected_by_day))
        for m in Milestone.objects.filter(template_id=onboarding.template_id).order_by("position")
    ]
    return Checklist(onboarding, items)


def _summary(onboarding: TenantOnboarding, completed: int, total: int) -> dict[str, Any]:
    return {
        "completed": completed,
        "total": total,
        "percent": round(completed * 100 / total) if total else 100,
        "stalled_since": onboarding.stalled_since,
        "completed_at": onboarding.completed_at,
    }


def onboarding_blocks(tenants: Sequence[Tenant]) -> dict[int, dict[str, Any] | None]:
    """Summaries (no milestone list) for a page of tenants, in three queries."""
    ids = [t.id for t in tenants]
    onboardings = {o.tenant_id: o for o in TenantOnboarding.all_tenants.filter(tenant_id__in=ids)}
    totals = dict(
        Milestone.objects.filter(template_id__in={o.template_id for o in onboardings.values()})
        .values("template_id")
        .annotate(n=Count("id"))
        .values_list("template_id", "n")
    )
    done = dict(
        MilestoneProgress.all_tenants.filter(tenant_id__in=ids)
        .values("tenant_id")
        .annotate(n=Count("id"))
        .values_list("tenant_id", "n")
    )
    blocks: dict[int, dict[str, Any] | None] = {}
    for tenant_id in ids:
        onboarding = onboardings.get(tenant_id)
        blocks[tenant_id] = (
            _summary(onboarding, done.get(tenant_id, 0), totals.get(onboarding.template_id, 0)) if onboarding else None
        )
    return blocks


def onboarding_block(tenant: Tenant) -> dict[str, Any] | None:
    """The API's `onboarding` section (CONTRACTS.md), with each milestone."""
    checklist = checklist_for(tenant=tenant)
    if checklist is None:
        return None
    block = _summary(checklist.onboarding, checklist.completed, checklist.total)
    block["milestones"] = [
        {
            "key": i.milestone.key,
            "title": i.milestone.title,
            "required": i.milestone.required,
            "event": i.milestone.event_name or None,
            "completed_at": i.progress.completed_at if i.progress else None,
            "source": i.progress.source if i.progress else None,
        }
        for i in checklist.items
    ]
    return block


def stalled_onboardings() -> QuerySet[TenantOnboarding]:
    """Staff-wide: stalled onboardings, the longest stalled first."""
    return (
        TenantOnboarding.all_tenants.filter(stalled_since__isnull=False, completed_at__isnull=True)
        .exclude(tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .select_related("tenant", "tenant__csm_owner", "template")
        .order_by("stalled_since")
    )


@dataclass(frozen=True)
class FunnelStep:
    milestone: Milestone
    reached: int  # tenants that completed this milestone and every earlier step of the funnel
    drop_off: int  # tenants that reached the previous step but not this one
    out_of_order: int = 0  # completed this milestone but skipped an earlier step: not in `reached`

    def percent_of(self, total: int) -> int:
        return round(self.reached * 100 / total) if total else 0


@dataclass(frozen=True)
class OptionalStep:
    milestone: Milestone
    completed: int  # tenants on the template that completed it, in any order

    def percent_of(self, total: int) -> int:
        return round(self.completed * 100 / total) if total else 0


@dataclass(frozen=True)
class Cohort:
    week: str  # ISO week of signup (UTC)
    signups: int
    reached: int  # of them, how many reached first value
    median_days: float | None  # over those that reached it only; None when nobody did


@dataclass(frozen=True)
class Funnel:
    template: OnboardingTemplate
    started: int
    steps: list[FunnelStep]
    optional: list[OptionalStep]
    reached_first_value: int
    median_days_to_first_value: float | None
    cohorts: list[Cohort]


def days_to_first_value(*, started_at: datetime, first_value_at: datetime | None) -> float | None:
    """Days from signup to first value; None when not reached (never 0). A first value
    recorded before signup — an imported tenant's or a replayed event older than the signup
    — is clamped to the signup: it was reached at once (0 days), never a negative time."""
    if first_value_at is None:
        return None
    return max(0.0, (first_value_at - started_at).total_seconds() / 86400)


def funnel_for(*, template: OnboardingTemplate) -> Funnel:
    """The template's funnel. Its steps are the required milestones in order, and a step
    counts the tenants that completed that milestone AND every earlier step — so a later step
    never exceeds an earlier one, whatever order tenants completed them in. A tenant that
    completed a step but skipped an earlier one is shown as `out_of_order` beside the step.
    Optional milestones are not steps (skipping one is fine): each is counted on its own.
    Time to first value is the median over the tenants that reached it only."""
    onboardings = list(
        TenantOnboarding.all_tenants.filter(template=template).values_list("tenant_id", "started_at", "first_value_at")
    )
    done: dict[int, set[int]] = {}
    for tenant_id, milestone_id in MilestoneProgress.all_tenants.filter(milestone__template=template).values_list(
        "tenant_id", "milestone_id"
    ):
        done.setdefault(tenant_id, set()).add(milestone_id)
    milestones = list(template.milestones.order_by("position"))
    # Everyone on the template starts at the top; each required step keeps those that did it.
    remaining = {tenant_id for tenant_id, _, _ in onboardings}
    steps: list[FunnelStep] = []
    optional: list[OptionalStep] = []
    for milestone in milestones:
        did = {tenant_id for tenant_id in done if milestone.id in done[tenant_id]}
        if not milestone.required:
            optional.append(OptionalStep(milestone, len(did)))
            continue
        before = len(remaining)
        out_of_order = len(did - remaining)
        remaining &= did
        steps.append(FunnelStep(milestone, len(remaining), before - len(remaining), out_of_order))
    weeks: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for _, started_at, first_value_at in onboardings:
        week = f"{started_at:%G-W%V}"
        sizes[week] = sizes.get(week, 0) + 1
        days = days_to_first_value(started_at=started_at, first_value_at=first_value_at)
        if days is not None:
            weeks.setdefault(week, []).append(days)
    all_days = [d for days in weeks.values() for d in days]
    cohorts = [
        Cohort(w, sizes[w], len(weeks.get(w, [])), round(statistics.median(weeks[w]), 1) if weeks.get(w) else None)
        for w in sorted(sizes)
    ]
    return Funnel(
        template=template,
        started=len(onboardings),
        steps=steps,
        optional=optional,
        reached_first_value=len(all_days),
        median_days_to_first_value=round(statistics.median(all_days), 1) if all_days else None,
        cohorts=cohorts,
    )


def templates_in_use() -> QuerySet[OnboardingTemplate]:
    return OnboardingTemplate.objects.filter(is_current=True).order_by("-is_default", "name")


def stalled_with_overdue(*, now: datetime, limit: int = 100) -> list[tuple[TenantOnboarding, list[Milestone]]]:
    """Stalled onboardings (longest first) with their overdue required milestones, in three
    queries whatever the number of tenants."""
    onboardings = list(stalled_onboardings()[:limit])
    done = set(
        MilestoneProgress.all_tenants.filter(tenant_id__in=[o.tenant_id for o in onboardings]).values_list(
            "tenant_id", "milestone_id"
        )
    )
    by_template: dict[int, list[Milestone]] = {}
    for m in Milestone.objects.filter(template_id__in={o.template_id for o in onboardings}, required=True):
        by_template.setdefault(m.template_id, []).append(m)
    return [
        (
            o,
            [
                m
                for m in by_template.get(o.template_id, [])
                if (o.tenant_id, m.id) not in done and o.started_at + timedelta(days=m.expected_by_day) <= now
            ],
        )
        for o in onboardings
    ]


ONBOARDING_STAGES = [
    ("not_started", "No checklist"),
    ("in_progress", "In progress"),
    ("stalled", "Stalled"),
    ("complete", "Complete"),
]


def tenants_in_onboarding_stage(tenants: QuerySet[Tenant], stage: str) -> QuerySet[Tenant]:
    """Narrows a tenant queryset to one onboarding stage (the cockpit's tenant filter)."""
    if stage == "not_started":
        return tenants.filter(onboarding__isnull=True)
    if stage == "stalled":
        # The same set as the onboarding page's stalled list (stalled_onboardings): a churned
        # tenant's open onboarding is abandoned, not stalled work for anyone.
        return tenants.filter(onboarding__stalled_since__isnull=False, onboarding__completed_at__isnull=True).exclude(
            lifecycle_stage=Tenant.LifecycleStage.CHURNED
        )
    if stage == "complete":
        return tenants.filter(onboarding__completed_at__isnull=False)
    if stage == "in_progress":
        return tenants.filter(
            onboarding__isnull=False, onboarding__completed_at__isnull=True, onboarding__stalled_since__isnull=True
        )
    return tenants


def onboardings_per_template() -> dict[int, int]:
    return dict(
        TenantOnboarding.all_tenants.values("template_id").annotate(n=Count("id")).values_list("template_id", "n")
    )


def template_get(*, template_id: int) -> OnboardingTemplate:
    """A template version; a 404 for an id that is none."""
    template = OnboardingTemplate.objects.filter(pk=template_id).first()
    if template is None:
        raise Http404(f"There is no onboarding template {template_id}.")
    return template


def template_milestones(*, template: OnboardingTemplate) -> QuerySet[Milestone]:
    return template.milestones.order_by("position")


def template_versions(*, template: OnboardingTemplate) -> QuerySet[OnboardingTemplate]:
    """Every version of this template, newest first."""
    return OnboardingTemplate.objects.filter(slug=template.slug).order_by("-version")


def stalled_count() -> int:
    """How many onboardings are stalled: the whole count the tenant list's filter shows."""
    return stalled_onboardings().count()


def median_days_to_first_value(*, tenants: QuerySet[Tenant], since: datetime) -> tuple[float | None, int]:
    """The median days from signup to first value of `tenants` that signed up since `since`
    and reached it, and how many that is. A bounded set (recent signups), read as two
    timestamps a row; clamped as days_to_first_value is."""
    rows = TenantOnboarding.all_tenants.filter(
        tenant__in=tenants, started_at__gte=since, first_value_at__isnull=False
    ).values_list("started_at", "first_value_at")
    days = sorted(days_to_first_value(started_at=s, first_value_at=f) or 0.0 for s, f in rows)
    if not days:
        return None, 0
    middle = len(days) // 2
    median = days[middle] if len(days) % 2 else (days[middle - 1] + days[middle]) / 2
    return median, len(days)


# --- The home's funnel and the tenant list's "reached" filter: one rule, one Q -----------------


def funnel_steps(*, template_id: int | None) -> list[Milestone]:
    """The required milestones of one template, in order: the steps of its funnel."""
    if template_id is None:
        return []
    return list(Milestone.objects.filter(template_id=template_id, required=True).order_by("position"))


def funnel_template_of(tenants: QuerySet[Tenant]) -> OnboardingTemplate | None:
    """The checklist most of `tenants` are on (the home draws that one's funnel)."""
    top = (
        TenantOnboarding.all_tenants.filter(tenant__in=tenants)
        .values("template_id")
        .annotate(n=Count("id"))
        .order_by("-n", "template_id")
        .values("template_id")[:1]
    )
    return OnboardingTemplate.objects.filter(pk=Subquery(top)).first()


def reachable_steps() -> list[Milestone]:
    """Every required milestone of the checklists in use, by checklist then position: the
    choices of the tenant list's "reached" filter."""
    return list(
        Milestone.objects.filter(template__is_current=True, required=True)
        .select_related("template")
        .order_by("template__name", "template_id", "position")
    )


def _reached_through(steps: Sequence[Milestone]) -> Q:
    """Completed every one of `steps` (one indexed EXISTS each: a template has a handful)."""
    return Q(
        *[Exists(MilestoneProgress.all_tenants.filter(tenant_id=OuterRef("pk"), milestone_id=m.id)) for m in steps]
    )


def tenants_reached(tenants: QuerySet[Tenant], *, step: Milestone, steps: Sequence[Milestone]) -> QuerySet[Tenant]:
    """Narrows tenants to those on `step`'s template that completed it and every earlier step
    (`steps`: that template's required milestones), as the funnel counts them — a tenant that
    skipped an earlier step has not reached it."""
    upto = [m for m in steps if m.template_id == step.template_id and m.position <= step.position]
    return tenants.filter(onboarding__template_id=step.template_id).filter(_reached_through(upto))


def book_funnel(tenants: QuerySet[Tenant], *, steps: Sequence[Milestone]) -> tuple[int, list[tuple[Milestone, int]]]:
    """How many of `tenants` are on the steps' template, and how many reached each step — in
    one query whatever the number of tenants. Each count is `tenants_reached(...).count()`."""
    if not steps:
        return 0, []
    on_template = tenants.filter(onboarding__template_id=steps[0].template_id)
    counts = on_template.aggregate(
        started=Count("pk"),
        **{f"step_{i}": Count("pk", filter=_reached_through(steps[: i + 1])) for i in range(len(steps))},
    )
    return counts["started"], [(m, counts[f"step_{i}"]) for i, m in enumerate(steps)]


def onboarding_completion_facts(*, tenant_ids: list[int] | None, as_of: datetime) -> dict[int, dict[str, Any]]:
    """The health model's onboarding signal: required milestones completed by `as_of` of the
    tenant's checklist, and how many it has. Two queries; tenants without a checklist are absent."""
    onboardings = TenantOnboarding.all_tenants.all()
    if tenant_ids is not None:
        onboardings = onboardings.filter(tenant_id__in=tenant_ids)
    template_of = dict(onboardings.values_list("tenant_id", "template_id"))
    required = dict(
        Milestone.objects.filter(required=True, template_id__in=set(template_of.values()))
        .values("template_id")
        .annotate(n=Count("id"))
        .values_list("template_id", "n")
        .order_by()
    )
    done = dict(
        MilestoneProgress.all_tenants.filter(
            tenant_id__in=list(template_of), milestone__required=True, completed_at__lte=as_of
        )
        .values("tenant_id")
        .annotate(n=Count("id"))
        .values_list("tenant_id", "n")
        .order_by()
    )
    return {
        tenant_id: {"onboarding_done": done.get(tenant_id, 0), "onboarding_required": required[template_id]}
        for tenant_id, template_id in template_of.items()
        if required.get(template_id)
    }
