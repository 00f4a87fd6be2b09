"""“Record churn reason”: the form on a churned tenant's page and in the billing queue's churn
list. Billing ops and CSMs pick a reason from seed 002's taxonomy (ChurnReason) and may add
a note; billing.churn.churn_reason_record writes it (audited, on the timeline)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from billing import churn as billing_churn
from core.access import staff_required
from core.http import form_errors_from
from tenants import selectors as tenant_selectors
from tenants.models import ChurnReason, Tenant
from tenants.services import CHURN_NOTE_MAX


class ChurnReasonForm(forms.Form):
    reason = forms.ChoiceField(
        label="Churn reason",
        choices=[("", "Why did they leave?"), *ChurnReason.choices],
        error_messages={
            "required": "Choose why they left.",
            "invalid_choice": "“%(value)s” is not a churn reason: choose one from the list.",
        },
    )
    note = forms.CharField(label="Note", required=False, max_length=CHURN_NOTE_MAX)

    def __init__(self, *args: object, tenant: Tenant, **kwargs: object) -> None:
        # Ids carry the tenant: the billing queue shows one form per churned tenant.
        kwargs.setdefault("auto_id", f"id_%s_{tenant.external_id}")
        kwargs.setdefault("initial", {"reason": tenant.churn_reason, "note": tenant.churn_note})
        super().__init__(*args, **kwargs)
        self.fields["note"].widget.attrs["placeholder"] = "What they said (optional)"


def churn_form_for(tenant: Tenant) -> ChurnReasonForm:
    return ChurnReasonForm(tenant=tenant)


def _next_url(request: HttpRequest, tenant: Tenant) -> str:
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else reverse("cockpit:tenant-detail", args=[tenant.external_id])


@staff_required()
@require_POST
def churn_reason_record(request: HttpRequest, external_id: str) -> HttpResponse:
    tenant = tenant_selectors.tenant_get_for_staff(external_id=external_id)
    form = ChurnReasonForm(request.POST, tenant=tenant)
    done = ""
    if form.is_valid():
        try:
            tenant = billing_churn.churn_reason_record(
                tenant=tenant,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                actor=request.user,
                now=timezone.now(),
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            done = f"Churn reason recorded: {ChurnReason(tenant.churn_reason).label}"
    # 422 with the form in place: htmx swaps it like a success (base.html), so the styled
    # error shows where the person typed, with DEBUG on or off; nothing was saved.
    status = 422 if form.errors else 200
    context = {"tenant": tenant, "form": form if form.errors else churn_form_for(tenant), "done": done}
    context["next"] = _next_url(request, tenant)
    if request.htmx:
        return render(request, "cockpit/_churn_form.html", context, status=status)
    if form.errors:
        return render(request, "cockpit/churn_reason.html", context, status=status)
    messages.success(request, f"{done}: {tenant.name}.")
    return redirect(context["next"])
