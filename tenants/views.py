"""CSM notes on a tenant, in the cockpit: the paged list with its form, edit (by the author)
and pin. Views parse and render; tenants/notes.py writes."""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.access import staff_required
from core.http import form_errors_from, safe_next
from core.paging import paged
from core.roles import Ability, may

from . import notes, selectors, services
from .models import Tenant
from .validators import parse_id

NOTES_PER_PAGE = 20


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Note",
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "What you learned — Markdown works (**bold**, lists)"}),
        max_length=notes.NOTE_MAX,
        strip=False,
        error_messages={
            "required": "Write the note: it is empty.",
            "max_length": "A note holds at most %(limit_value)s characters; this one has %(show_value)s.",
        },
    )
    pinned = forms.BooleanField(label="Pin it to the top of the tenant page", required=False)


def _list_context(request: HttpRequest, tenant: Tenant, form: NoteForm) -> dict:
    return {
        "tenant": tenant,
        "paged": paged(selectors.notes_for_tenant(tenant=tenant), request.GET, per_page=NOTES_PER_PAGE),
        "form": form,
        "can_act": may(request.user, Ability.ACT_ON_TENANTS),
    }


def _back_to_tenant(request: HttpRequest, tenant: Tenant) -> str:
    """Where the form came from (the tenant page or its notes page), else the tenant page."""
    detail = reverse("cockpit:tenant-detail", args=[tenant.external_id])
    kwargs = {"external_id": tenant.external_id}
    return safe_next(request, default="cockpit:tenant-detail", default_kwargs=kwargs, under=detail)


@staff_required()
@require_GET
def tenant_notes(request: HttpRequest, external_id: str) -> HttpResponse:
    tenant = selectors.tenant_get_for_staff(external_id=external_id)
    return render(request, "tenants/notes.html", _list_context(request, tenant, NoteForm()))


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def tenant_note_add(request: HttpRequest, external_id: str) -> HttpResponse:
    tenant = selectors.tenant_get_for_staff(external_id=external_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            notes.note_add(
                tenant=tenant,
                actor=request.user,
                body=form.cleaned_data["body"],
                pinned=form.cleaned_data["pinned"],
                now=timezone.now(),
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
    if form.errors:
        # The page with the text kept and the error beside it; nothing was saved.
        return render(request, "tenants/notes.html", _list_context(request, tenant, form), status=422)
    messages.success(request, f"Note added to {tenant.name}.")
    return redirect(_back_to_tenant(request, tenant))


@staff_required(Ability.ACT_ON_TENANTS)
@require_http_methods(["GET", "POST"])
def tenant_note_edit(request: HttpRequest, external_id: str, note_id: int) -> HttpResponse:
    tenant = selectors.tenant_get_for_staff(external_id=external_id)
    note = selectors.note_get(tenant=tenant, note_id=note_id)
    form = NoteForm(request.POST or None, initial={"body": note.body})
    if request.method == "POST" and form.is_valid():
        try:
            notes.note_edit(note=note, actor=request.user, body=form.cleaned_data["body"], now=timezone.now())
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, "Note saved.")
            return redirect("cockpit:tenant-notes", external_id=tenant.external_id)
    return render(
        request,
        "tenants/note_edit.html",
        {"tenant": tenant, "note": note, "form": form, "is_author": note.author_id == request.user.pk},
        status=422 if form.errors else 200,
    )


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def tenant_note_pin(request: HttpRequest, external_id: str, note_id: int) -> HttpResponse:
    tenant = selectors.tenant_get_for_staff(external_id=external_id)
    note = selectors.note_get(tenant=tenant, note_id=note_id)
    pinned = request.POST.get("pinned")
    if pinned not in ("1", "0"):
        messages.error(request, "Choose whether to pin or unpin the note.")
    else:
        notes.note_pin(note=note, actor=request.user, pinned=pinned == "1", now=timezone.now())
        messages.success(request, "Note pinned to the top." if pinned == "1" else "Note unpinned.")
    return redirect(_back_to_tenant(request, tenant))


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def tenant_csm_assign(request: HttpRequest, external_id: str) -> HttpResponse:
    """Give the account to a CSM from its page (or leave it unassigned); audited."""
    tenant = selectors.tenant_get_for_staff(external_id=external_id)
    raw = request.POST.get("csm", "")
    csm_id = parse_id(raw) if raw else None
    try:
        if raw and csm_id is None:
            raise ValidationError(f"“{raw[:20]}” is not a person.")
        tenant = services.tenant_csm_assign(
            tenant=tenant, csm_id=csm_id, actor=request.user, now=timezone.now(), ip=request.META.get("REMOTE_ADDR")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        owner = tenant.csm_owner
        who = (owner.get_full_name() or owner.get_username()) if owner else ""
        messages.success(
            request, f"{tenant.name} is now {who}'s account." if owner else f"{tenant.name} has no CSM now."
        )
    return redirect("cockpit:tenant-detail", external_id=tenant.external_id)


@staff_required(Ability.ACT_ON_TENANTS)
@require_POST
def tenant_contract_end(request: HttpRequest, external_id: str) -> HttpResponse:
    """Set (or clear) when the tenant's contract ends: the renewal runway counts back from it."""
    tenant = selectors.tenant_get_for_staff(external_id=external_id)
    raw = request.POST.get("contract_ends_on", "").strip()
    try:
        try:
            ends_on = date.fromisoformat(raw) if raw else None
        except ValueError:
            raise ValidationError(f"“{raw[:20]}” is not a date (YYYY-MM-DD).") from None
        tenant = services.tenant_contract_end_set(
            tenant=tenant, ends_on=ends_on, actor=request.user, now=timezone.now(), ip=request.META.get("REMOTE_ADDR")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        ends = tenant.contract_ends_on
        messages.success(
            request,
            f"{tenant.name}'s contract ends on {ends:%-d %b %Y}."
            if ends
            else f"{tenant.name} has no contract end date now.",
        )
    return redirect("cockpit:tenant-detail", external_id=tenant.external_id)
