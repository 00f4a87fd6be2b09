"""The CSM's side of onboarding in the cockpit: the funnel, stalled onboardings, and
completing a milestone for a tenant (audited)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.access import staff_required
from core.http import safe_next
from core.roles import Ability, may
from tenants.selectors import tenant_get_for_staff
from tenants.validators import parse_id

from . import selectors, services
from .forms import MILESTONE_FIELDS, MilestoneFormSet, TemplateEditForm
from .models import MilestoneProgress

# Who may tick a milestone on a tenant's behalf.
# The page lists the longest stalled; the rest are a click away in the tenant list.
STALLED_SHOWN = 100


@staff_required()
@require_GET
def onboarding_overview(request: HttpRequest) -> HttpResponse:
    templates = list(selectors.templates_in_use())
    # By default the template most tenants follow.
    started = selectors.onboardings_per_template()
    chosen = max(templates, key=lambda t: started.get(t.pk, 0), default=None)
    if (template_id := parse_id(request.GET.get("template"))) is not None:
        chosen = selectors.template_get(template_id=template_id)
    return render(
        request,
        "onboarding/cockpit_overview.html",
        {
            "templates": templates,
            "funnel": selectors.funnel_for(template=chosen) if chosen else None,
            "stalled": selectors.stalled_with_overdue(now=timezone.now(), limit=STALLED_SHOWN),
            # The whole count, which the tenant list's "Stalled" filter shows in full.
            "stalled_total": selectors.stalled_count(),
            "stalled_shown": STALLED_SHOWN,
            "now": timezone.now(),
        },
    )


@staff_required(Ability.EDIT_MILESTONES)
@require_POST
def milestone_complete_for_tenant(request: HttpRequest, external_id: str, key: str) -> HttpResponse:
    tenant = tenant_get_for_staff(external_id=external_id)
    checklist = selectors.checklist_for(tenant=tenant)
    item = next((i for i in checklist.items if i.milestone.key == key), None) if checklist else None
    if item is None:
        raise Http404("No such milestone in this tenant's onboarding.")
    note = request.POST.get("note", "").strip()
    if not note:
        messages.error(request, f"Say what was done for “{item.milestone.title}” in the note, then tick it.")
    else:
        try:
            changed = services.milestone_complete(
                tenant=tenant,
                milestone=item.milestone,
                source=MilestoneProgress.Source.STAFF,
                now=timezone.now(),
                actor=request.user,
                note=note[:2000],
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                f"“{item.milestone.title}” completed for {tenant.name}."
                if changed
                else f"“{item.milestone.title}” was already complete.",
            )
    # Only back into the cockpit on this host: never an open redirect.
    return redirect(
        safe_next(
            request,
            default="cockpit:tenant-detail",
            default_kwargs={"external_id": tenant.external_id},
            under="/admin/customer-success/",
        )
    )


@staff_required()
@require_http_methods(["GET", "POST"])
def onboarding_template(request: HttpRequest, template_id: int) -> HttpResponse:
    """A template version and, for CS leads and admins, its editor: saving makes the next
    version, which new signups get; tenants on this one keep it."""
    template = selectors.template_get(template_id=template_id)
    can_edit = may(request.user, Ability.EDIT_ONBOARDING_TEMPLATES)
    if request.method == "POST" and not can_edit:
        raise PermissionDenied("Only CS leads and admins edit onboarding templates.")
    initial = [{f: getattr(m, f) for f in MILESTONE_FIELDS} for m in selectors.template_milestones(template=template)]
    form = TemplateEditForm(request.POST or None, initial={"name": template.name, "description": template.description})
    formset = MilestoneFormSet(request.POST or None, initial=initial, prefix="m")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        rows = [
            f.cleaned_data
            for f in formset.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("key")
        ]
        milestones = [{k: row[k] for k in MILESTONE_FIELDS} for row in rows]
        try:
            revised = services.template_revise(
                template=template,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                milestones=milestones,
                actor=request.user,
                now=timezone.now(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Saved as {revised}; new signups get it.")
            return redirect("cockpit:onboarding-template", template_id=revised.pk)
    versions = selectors.template_versions(template=template)
    return render(
        request,
        "onboarding/cockpit_template.html",
        {
            "template": template,
            "form": form,
            "formset": formset,
            "can_edit": can_edit,
            "versions": versions,
        },
        status=400 if request.method == "POST" else 200,
    )
