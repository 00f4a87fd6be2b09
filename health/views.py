"""Cockpit pages for the health model: versions, a back-test side by side, a new draft,
publishing. Everyone on staff may look; CS leads and admins may change the model."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.access import staff_required
from core.http import form_errors_from
from core.roles import Ability, may
from tenants.validators import parse_id

from . import selectors, services
from .backtest import backtest
from .components import SIGNALS
from .forms import HealthModelForm, format_points
from .models import HealthModel

HORIZONS = [7, 14, 21, 30, 45, 60]


def _model_rows(model: HealthModel) -> list[dict]:
    return [
        {"label": SIGNALS[c["key"]].label, "weight": c["weight"], "points": format_points(c["points"])}
        for c in model.components
    ]


@staff_required()
@require_GET
def health_models(request: HttpRequest) -> HttpResponse:
    models = [{"model": m, "rows": _model_rows(m)} for m in selectors.health_models()]
    return render(
        request,
        "health/models.html",
        {
            "models": models,
            "can_edit": may(request.user, Ability.EDIT_HEALTH_MODEL),
            "seeds_missing": selectors.seed_models_missing(),
        },
    )


@staff_required(Ability.EDIT_HEALTH_MODEL)
@require_POST
def health_models_from_seeds(request: HttpRequest) -> HttpResponse:
    """Drafts the seeds' models (004's customer health, 001's onboarding health) to back-test."""
    made = services.health_models_from_seeds(actor=request.user, now=timezone.now())
    if made:
        names = ", ".join(f"v{m.version} {m.name}" for m in made)
        messages.success(request, f"Drafted {names}: back-test each against the published model before publishing.")
    else:
        messages.info(request, "The seeds' models are drafted already.")
    return redirect("cockpit:health-models")


@staff_required()
@require_GET
def health_backtest(request: HttpRequest) -> HttpResponse:
    """The published model and another version, back-tested over the same history."""
    now = timezone.now()
    try:
        horizon = int(request.GET.get("horizon", 21))
    except ValueError:
        horizon = 21
    horizon = horizon if horizon in HORIZONS else 21
    published = services.published_model()
    candidate = published
    if (version := parse_id(request.GET.get("model"))) is not None:
        candidate = selectors.health_model_get(version=version)
    reports = [backtest(model=published, now=now, horizon_days=horizon)]
    if candidate != published:
        reports.append(backtest(model=candidate, now=now, horizon_days=horizon))
    return render(
        request,
        "health/backtest.html",
        {
            "reports": reports,
            "horizon": horizon,
            "horizons": HORIZONS,
            "candidate": candidate,
            "published": published,
            "can_edit": may(request.user, Ability.EDIT_HEALTH_MODEL),
            "seeds_missing": selectors.seed_models_missing(),
        },
    )


@staff_required(Ability.EDIT_HEALTH_MODEL)
@require_http_methods(["GET", "POST"])
def health_model_new(request: HttpRequest) -> HttpResponse:
    base = services.published_model()
    if (version := parse_id(request.GET.get("from"))) is not None:
        base = selectors.health_model_get(version=version)
    form = HealthModelForm(request.POST or None, base=base)
    if request.method == "POST" and form.is_valid():
        components = form.components()
        if form.is_valid():  # components() adds field errors for unreadable thresholds
            try:
                draft = services.health_model_create_draft(
                    name=form.cleaned_data["name"],
                    components=components,
                    healthy_min=form.cleaned_data["healthy_min"],
                    at_risk_min=form.cleaned_data["at_risk_min"],
                    warmup_days=form.cleaned_data["warmup_days"],
                    notes=form.cleaned_data["notes"],
                    actor=request.user,
                    now=timezone.now(),
                )
            except ValidationError as error:
                form_errors_from(form, error)
            else:
                messages.success(request, f"Draft v{draft.version} saved. Back-test it before you publish.")
                return redirect(f"{reverse('cockpit:health-backtest')}?model={draft.version}")
    return render(request, "health/model_form.html", {"form": form, "base": base}, status=400 if form.errors else 200)


@staff_required(Ability.EDIT_HEALTH_MODEL)
@require_POST
def health_model_publish(request: HttpRequest, version: int) -> HttpResponse:
    model = selectors.health_model_get(version=version)
    try:
        services.health_model_publish(model=model, actor=request.user, now=timezone.now())
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"v{model.version} is published; every tenant is re-scored within a minute.")
    return redirect("cockpit:health-models")
