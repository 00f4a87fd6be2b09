"""Playbooks in the cockpit: the list and a playbook's page (steps, versions, enable), the
YAML editor with a preview against a real tenant, the dry run, the per-delivery "why", the
needs-review queue, CSM tasks, and the tenant page's actions (pause, start a playbook)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.rules import RULES
from core.access import staff_required
from core.http import safe_next
from core.paging import paged
from core.roles import Ability, may, staff_roles_of
from core.teamday import team_day_end, team_day_start
from messaging.selectors import messages_about
from tenants import selectors as tenant_selectors
from tenants.models import ConsentSource
from tenants.selectors import tenant_get_for_staff
from tenants.services import tenant_sms_consent_record
from tenants.validators import parse_id

from . import selectors, services
from .definitions import DefinitionError, parse, to_yaml
from .facts import facts_for_tenants
from .models import CUSTOMER_CHANNELS, Channel
from .scheduling import RunNotStarted, run_start_manual
from .simulation import simulate, tenants_for_simulation
from .templating import TemplateError, check
from .templating import render as render_template

MAX_SIMULATED_DAYS = 120


@staff_required()
@require_GET
def playbook_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "playbooks/list.html",
        {"rows": selectors.playbooks_for_staff(now=timezone.now()), "review_count": selectors.needs_review_count()},
    )


@staff_required()
@require_GET
def playbook_detail(request: HttpRequest, slug: str) -> HttpResponse:
    playbook = selectors.playbook_get_for_staff(slug=slug)
    return render(
        request,
        "playbooks/detail.html",
        {
            "playbook": playbook,
            "version": playbook.current,
            "steps": list(playbook.current.steps.all()),
            "versions": selectors.playbook_versions(playbook=playbook),
            "can_edit": may(request.user, Ability.EDIT_PLAYBOOKS),
            "not_raised_yet": selectors.playbook_not_raised_yet(playbook),
            "trigger_rule": RULES.get(playbook.current.trigger_rule),
        },
    )


@staff_required(Ability.EDIT_PLAYBOOKS)
@require_POST
def playbook_toggle(request: HttpRequest, slug: str) -> HttpResponse:
    playbook = selectors.playbook_get_for_staff(slug=slug)
    if request.POST.get("enabled") not in ("0", "1"):
        messages.error(request, "Say whether to enable (1) or disable (0) the playbook.")
        return redirect("cockpit:playbook-detail", slug=slug)
    enable = request.POST.get("enabled") == "1"
    cancelled = services.playbook_set_enabled(playbook=playbook, enabled=enable, actor=request.user, now=timezone.now())
    if enable:
        messages.success(request, f"“{playbook.current.name}” is enabled: new runs start at the next tick.")
    else:
        messages.success(
            request,
            f"“{playbook.current.name}” is disabled; {cancelled} active run(s) cancelled with what they had left.",
        )
    return redirect("cockpit:playbook-detail", slug=slug)


@staff_required(Ability.EDIT_PLAYBOOKS)
@require_http_methods(["GET", "POST"])
def playbook_edit(request: HttpRequest, slug: str) -> HttpResponse:
    playbook = selectors.playbook_get_for_staff(slug=slug)
    text, error = to_yaml(playbook.current.definition), None
    if request.method == "POST":
        text = request.POST.get("definition", "")
        try:
            result = services.playbook_edit(playbook=playbook, text=text, actor=request.user, now=timezone.now())
        except DefinitionError as exc:
            error = exc
        else:
            if result.created:
                messages.success(request, f"Saved as version {result.version.number}; running tenants keep theirs.")
            else:
                messages.info(request, "Nothing changed: the definition equals the current version.")
            return redirect("cockpit:playbook-detail", slug=slug)
    tenants = tenant_selectors.tenants_to_preview_with()
    return render(
        request,
        "playbooks/edit.html",
        {"playbook": playbook, "text": text, "error": error, "tenants": tenants},
        status=400 if error else 200,
    )


@staff_required()
@require_POST
def playbook_preview(request: HttpRequest, slug: str) -> HttpResponse:
    """Renders the edited (unsaved) steps for one tenant: the htmx preview beside the editor."""
    playbook = selectors.playbook_get_for_staff(slug=slug)
    tenant_id = parse_id(request.POST.get("tenant"))
    tenant = tenant_selectors.tenant_find_for_staff(tenant_id=tenant_id)
    context: dict = {"playbook": playbook, "tenant": tenant, "steps": []}
    try:
        definition = parse(request.POST.get("definition", ""), source="the editor", markdown=False)
    except DefinitionError as exc:
        context["error"] = str(exc)
        return render(request, "playbooks/edit.html#preview", context)
    if tenant is None:
        context["error"] = "Choose a tenant to preview with."
        return render(request, "playbooks/edit.html#preview", context)
    windows = set()
    for step in definition["steps"]:
        windows |= check(step["subject"], field="subject") | check(step["body"], field="body")
    facts = facts_for_tenants([tenant], now=timezone.now(), windows=windows)[tenant.id]
    for step in definition["steps"]:
        try:
            strict = step["channel"] in CUSTOMER_CHANNELS
            subject = render_template(step["subject"], facts, strict=strict)
            body, problem = render_template(step["body"], facts, strict=strict), ""
        except TemplateError as exc:
            subject, body, problem = "", "", str(exc)
        channel = Channel(step["channel"]).label
        context["steps"].append(
            {"step": step, "channel": channel, "subject": subject, "body": body, "problem": problem}
        )
    return render(request, "playbooks/edit.html#preview", context)


@staff_required()
@require_GET
def playbook_simulate(request: HttpRequest, slug: str) -> HttpResponse:
    playbook = selectors.playbook_get_for_staff(slug=slug)
    raw_days = request.GET.get("days", "30")
    days = parse_id(raw_days)
    errors = []
    if days is None or not 1 <= days <= MAX_SIMULATED_DAYS:
        errors.append(f"Days must be a whole number from 1 to {MAX_SIMULATED_DAYS}, not “{raw_days}”.")
        days = 30
    tenants, missing = tenants_for_simulation(request.GET.get("tenants", "all"))
    if missing:
        errors.append(f"Unknown or churned tenant(s): {', '.join(missing)}.")
    simulation = simulate(playbook=playbook, tenants=tenants, days=days, now=timezone.now())
    # The totals cover every tenant; the rows, one collapsed line per tenant, come a page at a time.
    page = paged(simulation.tenants, request.GET, per_page=SIMULATION_TENANTS_PER_PAGE)
    return render(
        request,
        "playbooks/simulate.html",
        {
            "playbook": playbook,
            "simulation": simulation,
            "paged": page,
            "tenant_rows": page.rows,
            "errors": errors,
            "tenants_param": request.GET.get("tenants", "all"),
        },
        status=400 if errors else 200,
    )


SIMULATION_TENANTS_PER_PAGE = 25


@staff_required()
@require_GET
def playbook_export(request: HttpRequest, slug: str) -> HttpResponse:
    playbook = selectors.playbook_get_for_staff(slug=slug)
    number = parse_id(request.GET.get("version"))
    version = selectors.playbook_version_or_current(playbook=playbook, number=number)
    response = HttpResponse(to_yaml(version.definition), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{playbook.slug}-v{version.number}.yaml"'
    return response


@staff_required()
@require_GET
def delivery_detail(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = selectors.delivery_get_for_staff(delivery_id=delivery_id)
    selectors.deliveries_with_previews(tenant=delivery.tenant, deliveries=[delivery], now=timezone.now())
    context = {
        "delivery": delivery,
        "sends": messages_about(topic=f"delivery:{delivery.id}"),
        "decisions": services.REVIEW_DECISIONS,
        "can_decide": _can_act(request),
    }
    return render(request, "playbooks/delivery.html", context)


def _can_act(request: HttpRequest) -> bool:
    return may(request.user, Ability.ACT_ON_TENANTS)


@staff_required()
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    page = paged(selectors.deliveries_needing_review(), request.GET)
    context = {"deliveries": page.rows, "paged": page, "decisions": services.REVIEW_DECISIONS}
    return render(request, "playbooks/review.html", context)


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def delivery_review(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = selectors.delivery_get_for_staff(delivery_id=delivery_id)
    try:
        services.delivery_review_decide(
            delivery=delivery,
            decision=request.POST.get("decision", ""),
            note=request.POST.get("note", ""),
            actor=request.user,
            now=timezone.now(),
        )
    except ValidationError as exc:
        for problems in exc.message_dict.values():
            for problem in problems:
                messages.error(request, problem)
    else:
        messages.success(request, "Recorded. The decision is on the tenant's timeline and in the audit log.")
    return redirect("cockpit:delivery-detail", delivery_id=delivery.id)


TOUCHPOINT_DAYS = {"today": "Today", "7d": "Last 7 days", "any": "Any time"}


@staff_required()
@require_GET
def touchpoint_list(request: HttpRequest) -> HttpResponse:
    """Touchpoints across tenants by outcome and day: what went out today, what failed, what
    waits for a person — the home's tiles open these lists."""
    params, notes = request.GET, []
    outcome = params.get("outcome", "sent")
    if outcome not in selectors.TOUCHPOINT_OUTCOMES:
        notes.append(f"“{outcome[:30]}” is not an outcome: showing sent touchpoints.")
        outcome = "sent"
    day = params.get("day", "today")
    if day not in TOUCHPOINT_DAYS:
        notes.append(f"“{day[:30]}” is not a period: showing today.")
        day = "today"
    csm_id = parse_id(params.get("csm"))
    if params.get("csm") and csm_id is None:
        notes.append(f"“{params['csm'][:30]}” is not a CSM: showing everyone's tenants.")
    now = timezone.now()
    start = team_day_start(now)
    since = {"today": start, "7d": start - timedelta(days=6), "any": None}[day]
    until = team_day_end(now) if day != "any" else None
    rows = selectors.touchpoints_for_staff(outcome=outcome, since=since, until=until, csm=str(csm_id or ""))
    page = paged(rows, params)
    context = {
        "deliveries": page.rows,
        "paged": page,
        "notes": notes,
        "outcome": outcome,
        "outcomes": {k: v[0] for k, v in selectors.TOUCHPOINT_OUTCOMES.items()},
        "day": day,
        "days": TOUCHPOINT_DAYS,
        "csm": str(csm_id or ""),
        "csms": tenant_selectors.csm_choices(),
        "outcome_label": selectors.TOUCHPOINT_OUTCOMES[outcome][0],
        "day_label": TOUCHPOINT_DAYS[day],
        "team_timezone": settings.CS_TEAM_TIMEZONE,
        "when_label": {"sent": "Sent", "failed": "Failed", "needs_review": "Interrupted", "scheduled": "Due"}[outcome],
    }
    return render(request, "playbooks/touchpoints.html", context)


@staff_required()
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    scope = request.GET.get("scope", "mine")
    if scope not in selectors.TASK_SCOPES:
        scope = "mine"
    sort = request.GET.get("sort", "due")
    if sort not in selectors.TASK_SORTS:
        messages.warning(request, f"“{sort[:30]}” is not a way to sort tasks: showing the soonest due first.")
        sort = "due"
    roles = staff_roles_of(request.user)
    page = paged(selectors.tasks_for_staff(user=request.user, roles=roles, scope=scope, sort=sort), request.GET)
    context = {
        "tasks": page.rows,
        "paged": page,
        "scope": scope,
        "scopes": selectors.TASK_SCOPES,
        "sort": sort,
        "sorts": {key: label for key, (label, _) in selectors.TASK_SORTS.items()},
    }
    context["now"] = timezone.now()
    return render(request, "playbooks/tasks.html", context)


@staff_required()
@require_POST
def task_complete(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_get_for_staff(task_id=task_id)
    task = services.task_complete(task=task, actor=request.user, note=request.POST.get("note", ""), now=timezone.now())
    if request.htmx:
        return render(request, "playbooks/tasks.html#task-row", {"task": task, "now": timezone.now()})
    messages.success(request, f"Done: {task.title}")
    return redirect(safe_next(request, default="cockpit:tasks"))


@staff_required()
@require_POST
def task_bulk_complete(request: HttpRequest) -> HttpResponse:
    """The ticked tasks of a task page done at once; those done meanwhile are named."""
    raw_ids = request.POST.getlist("ids")
    task_ids = [parse_id(raw) for raw in raw_ids]
    try:
        if None in task_ids:
            raise ValidationError(f"“{raw_ids[task_ids.index(None)][:20]}” is not a task.")
        done, skipped = services.tasks_complete_many(
            task_ids=task_ids,  # type: ignore[arg-type]
            actor=request.user,
            note=request.POST.get("note", "")[:500],
            now=timezone.now(),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if done:
            messages.success(request, f"{len(done)} task{pluralize(len(done))} done.")
        if skipped:
            left = "; ".join(f"{title} ({why})" for title, why in skipped)
            messages.warning(
                request, f"{len(skipped)} left as {'they were' if len(skipped) != 1 else 'it was'}: {left}."
            )
    return redirect(safe_next(request, default="cockpit:tasks", under=reverse("cockpit:tasks")))


def _due_from(raw: str) -> datetime:
    """A due date from the form: 17:00 that day in the CS team's time zone."""
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationError({"due_at": [f"“{raw[:20]}” is not a date such as 2026-12-01."]}) from None
    return datetime.combine(day, time(17), tzinfo=ZoneInfo(settings.CS_TEAM_TIMEZONE))


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def tenant_task_create(request: HttpRequest, external_id: str) -> HttpResponse:
    """A task made on the tenant's page, for a CS teammate or the CSM queue."""
    tenant = tenant_get_for_staff(external_id=external_id)
    raw = request.POST.get("assignee", "")
    try:
        assignee = None
        if raw:
            assignee = next((m for m in tenant_selectors.cs_team_members() if str(m.pk) == raw), None)
            if assignee is None:
                raise ValidationError({"assignee": ["Choose someone on the CS team, or the CSM queue."]})
        task = services.task_create(
            tenant=tenant,
            title=request.POST.get("title", ""),
            due_at=_due_from(request.POST.get("due", "")),
            assignee=assignee,
            body=request.POST.get("body", "")[:2000],
            actor=request.user,
            now=timezone.now(),
        )
    except ValidationError as exc:
        messages.error(request, "Task not created: " + " ".join(exc.messages))
    else:
        who = (task.assignee.get_full_name() or task.assignee.get_username()) if task.assignee else "the CSM queue"
        messages.success(request, f"Task created for {who}: {task.title}.")
    return redirect("cockpit:tenant-detail", external_id=tenant.external_id)


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def tenant_screenshare_task(request: HttpRequest, external_id: str) -> HttpResponse:
    tenant = tenant_get_for_staff(external_id=external_id)
    task, created = services.screenshare_task_create(tenant=tenant, actor=request.user, now=timezone.now())
    if created:
        messages.success(request, f"Task created for {task.assignee}: {task.title}.")
    else:
        messages.info(request, f"A screenshare task for {tenant.name} is already open (for {task.assignee}).")
    return redirect("cockpit:onboarding")


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def tenant_touchpoints_pause(request: HttpRequest, external_id: str) -> HttpResponse:
    tenant = tenant_get_for_staff(external_id=external_id)
    services.touchpoints_pause(tenant=tenant, actor=request.user, note=request.POST.get("note", ""), now=timezone.now())
    messages.success(request, f"Every touchpoint for {tenant.name} is paused until you resume them.")
    return redirect("cockpit:tenant-detail", external_id=external_id)


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def tenant_touchpoints_resume(request: HttpRequest, external_id: str) -> HttpResponse:
    tenant = tenant_get_for_staff(external_id=external_id)
    if services.touchpoints_resume(tenant=tenant, actor=request.user, now=timezone.now()):
        messages.success(request, f"Touchpoints for {tenant.name} are back on.")
    return redirect("cockpit:tenant-detail", external_id=external_id)


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def tenant_playbook_start(request: HttpRequest, external_id: str) -> HttpResponse:
    tenant = tenant_get_for_staff(external_id=external_id)
    slug = request.POST.get("playbook", "")
    playbook = selectors.playbook_find(slug=slug)
    if playbook is None:
        messages.error(request, "Choose a playbook to start.")
    else:
        try:
            run_start_manual(tenant=tenant, playbook=playbook, actor=request.user, now=timezone.now())
        except RunNotStarted as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Started “{playbook.current.name}” for {tenant.name}.")
    return redirect("cockpit:tenant-detail", external_id=external_id)


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def tenant_sms_consent(request: HttpRequest, external_id: str) -> HttpResponse:
    """Staff record SMS consent the owner gave by phone (or its withdrawal); audited."""
    tenant = tenant_get_for_staff(external_id=external_id)
    given = request.POST.get("given")
    if given not in ("1", "0"):
        messages.error(request, "Choose whether the owner agreed to SMS or withdrew consent.")
        return redirect("cockpit:tenant-detail", external_id=external_id)
    try:
        tenant_sms_consent_record(
            tenant=tenant,
            given=given == "1",
            source=ConsentSource.STAFF,
            actor=request.user,
            now=timezone.now(),
            ip=request.META.get("REMOTE_ADDR"),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("cockpit:tenant-detail", external_id=external_id)
    if given == "1":
        messages.success(request, f"Recorded: {tenant.owner_name or tenant.owner_email} agreed to SMS.")
    else:
        messages.success(request, f"Recorded: no more SMS to {tenant.owner_name or tenant.owner_email}.")
    return redirect("cockpit:tenant-detail", external_id=external_id)
