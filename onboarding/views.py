"""The owner's side: signup, the onboarding wizard, email verification."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from core.http import form_errors_from
from tenants.hooks import owner_notices
from tenants.models import Tenant
from tenants.selectors import tenant_owned_by

from . import selectors, services
from .forms import JoinForm, SignupForm
from .models import Milestone, MilestoneProgress
from .steps import STEP_FORMS, InviteTeammateForm


def _verify_url(request: HttpRequest) -> str:
    # SITE_URL, like every link in a message: the one address people reach us at, whatever
    # host this request came in on.
    return settings.SITE_URL + reverse("onboarding:verify", kwargs={"token": "T"})[:-2]


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("after-login")
    # A friend's referral link (/signup/?ref=CODE) fills the code in.
    form = SignupForm(request.POST or None, initial={"referral_code": request.GET.get("ref", "")[:20]})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = services.owner_signup(
                company_name=data["company_name"],
                owner_name=data["owner_name"],
                email=data["email"],
                password=data["password"],
                phone=data["phone"],
                sms_consent=data["sms_consent"],
                plan=data["plan"],
                timezone=data["timezone"],
                segment=data["business_type"],
                referred_by=data["referral_code"],
                now=timezone.now(),
                verify_url=_verify_url(request),
            )
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("onboarding:wizard")
    return render(request, "onboarding/signup.html", {"form": form}, status=422 if form.errors else 200)


def _owned_tenant(request: HttpRequest) -> Tenant:
    """The tenant the signed-in user owns; anyone else (staff, members, strangers) gets 404."""
    tenant = tenant_owned_by(user=request.user)
    if tenant is None:
        raise Http404("You do not own a company account.")
    return tenant


def _step_form(milestone: Milestone, tenant: Tenant, data: object = None):
    form_class = STEP_FORMS.get(milestone.step)
    if form_class is None:
        return None
    if form_class is InviteTeammateForm:
        return form_class(data, owner_email=tenant.owner_email, prefix=milestone.key)
    return form_class(data, prefix=milestone.key)


@login_required
def wizard(request: HttpRequest) -> HttpResponse:
    """Resumes where the owner left off: the first open wizard step, else the overview."""
    tenant = _owned_tenant(request)
    checklist = selectors.checklist_for(tenant=tenant)
    if checklist is None:  # an account created before onboarding existed, or by staff
        return redirect("account")
    # Email verification waits on a link in the inbox: carry on with the steps the owner can
    # do now, and come back to it when nothing else is left.
    open_steps = [i for i in checklist.items if not i.done and i.milestone.completion == Milestone.Completion.WIZARD]
    item = next((i for i in open_steps if i.milestone.step != "verify_email"), open_steps[0] if open_steps else None)
    if item is None:
        return redirect("onboarding:done")
    return redirect("onboarding:step", key=item.milestone.key)


def _render_step(
    request: HttpRequest,
    tenant: Tenant,
    checklist: selectors.Checklist,
    item: selectors.ChecklistItem,
    form: object,
    status: int = 200,
) -> HttpResponse:
    wizard_items = [i for i in checklist.items if i.milestone.completion == Milestone.Completion.WIZARD]
    index = wizard_items.index(item) if item in wizard_items else 0
    context = {
        "tenant": tenant,
        "checklist": checklist,
        "item": item,
        "form": form,
        "previous": wizard_items[index - 1] if index > 0 else None,
        "next": wizard_items[index + 1] if index + 1 < len(wizard_items) else None,
        "step_number": index + 1,
        "step_count": len(wizard_items),
        # What other apps want the owner to see here (billing: the trial's days left).
        "owner_notices": owner_notices(tenant=tenant, now=timezone.now()),
    }
    template = "onboarding/step.html#step-panel" if request.htmx else "onboarding/step.html"
    return render(request, template, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def step(request: HttpRequest, key: str) -> HttpResponse:
    tenant = _owned_tenant(request)
    checklist = selectors.checklist_for(tenant=tenant)
    item = next((i for i in checklist.items if i.milestone.key == key), None) if checklist else None
    if item is None or item.milestone.completion != Milestone.Completion.WIZARD:
        raise Http404("No such step in your onboarding.")
    if request.method == "POST":
        if item.done:
            raise Http404("This step is already complete.")
        form = _step_form(item.milestone, tenant, request.POST)
        if form is None or not form.is_valid():
            # 422 with the step's partial: htmx swaps it like a success (base.html), so the styled
            # error shows in place with DEBUG on or off; nothing was saved, the rest stays as is.
            return _render_step(request, tenant, checklist, item, form, status=422)
        data = {k: v for k, v in form.cleaned_data.items() if v not in ("", None)}
        services.milestone_complete(
            tenant=tenant,
            milestone=item.milestone,
            source=MilestoneProgress.Source.WIZARD,
            now=timezone.now(),
            actor=request.user,
            data=data,
        )
        if item.milestone.step == "invite_teammate":
            services.teammate_invite_send(
                tenant=tenant,
                email=data["email"],
                inviter=request.user,
                join_url=settings.SITE_URL + reverse("onboarding:join", kwargs={"token": "T"})[:-2],
                now=timezone.now(),
            )
        if request.htmx:
            # Not a 302: the browser's XHR would follow it and htmx would swap the next step into
            # the panel alone, leaving the progress bar, "Step N of M" and the checklist as they
            # were. HX-Redirect loads the next step as a whole page, so every part of it is new.
            return HttpResponseClientRedirect(reverse("onboarding:wizard"))
        return redirect("onboarding:wizard")
    form = _step_form(item.milestone, tenant) if not item.done else None
    return _render_step(request, tenant, checklist, item, form)


@login_required
def done(request: HttpRequest) -> HttpResponse:
    tenant = _owned_tenant(request)
    checklist = selectors.checklist_for(tenant=tenant)
    if checklist is None:
        return redirect("account")
    return render(request, "onboarding/done.html", {"tenant": tenant, "checklist": checklist})


def verify(request: HttpRequest, token: str) -> HttpResponse:
    try:
        services.email_verify(token=token, now=timezone.now())
    except ValidationError as error:
        return render(request, "onboarding/verify_failed.html", {"reason": " ".join(error.messages)}, status=400)
    messages.success(request, "Thanks, your email address is verified.")
    return redirect("onboarding:wizard" if request.user.is_authenticated else "login")


@login_required
@require_POST
def resend_verification(request: HttpRequest) -> HttpResponse:
    tenant = _owned_tenant(request)
    services.verification_email_send(
        user=request.user, tenant=tenant, verify_url=_verify_url(request), now=timezone.now()
    )
    messages.success(request, f"We sent a new link to {request.user.email}.")
    return redirect("onboarding:wizard")


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    """An invited teammate sets a name and password and joins the tenant as a member."""
    try:
        tenant, email = services.invitation_read(token=token)
    except ValidationError as error:
        return render(request, "onboarding/verify_failed.html", {"reason": " ".join(error.messages)}, status=400)
    if request.user.is_authenticated:
        # Already has a login: joining is one confirmation, for the invited address only.
        if request.method == "POST":
            try:
                services.invitation_accept_as(token=token, user=request.user, now=timezone.now())
            except ValidationError as error:
                return render(
                    request, "onboarding/verify_failed.html", {"reason": " ".join(error.messages)}, status=400
                )
            messages.success(request, f"You joined {tenant.name}.")
            return redirect("account")
        return render(request, "onboarding/join.html", {"tenant": tenant, "email": email, "form": None})
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                token=token, name=form.cleaned_data["name"], password=form.cleaned_data["password"], now=timezone.now()
            )
        except ValidationError as error:
            form.add_error(None, " ".join(error.messages))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("account")
    return render(
        request,
        "onboarding/join.html",
        {"form": form, "tenant": tenant, "email": email},
        status=422 if form.errors else 200,
    )
