"""What tenants and Stripe reach: the owner's billing page (plan, status, next invoice, card,
“Manage billing”), Checkout, the signed portal links in dunning messages, and the webhook."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.webhooks import webhook_tally
from tenants.models import Tenant
from tenants.selectors import memberships_of, tenant_owned_by

from . import selectors, services, trials
from .plans import PLANS, trial_days
from .webhooks import WebhookRejected, stripe_event_process

logger = logging.getLogger(__name__)


def _owned_tenant(request: HttpRequest) -> Tenant:
    """The tenant this user owns; members and strangers get a 404 (billing is the owner's)."""
    tenant = tenant_owned_by(user=request.user)
    if tenant is None:
        raise Http404("Only the account owner manages billing.")
    return tenant


@login_required
@require_GET
def billing_home(request: HttpRequest) -> HttpResponse:
    tenant = _owned_tenant(request)
    return render(request, "billing/home.html", _home_context(tenant, checkout=request.GET.get("checkout", "")))


def _home_context(tenant: Tenant, **extra: object) -> dict[str, object]:
    subscription = selectors.subscription_for_tenant(tenant=tenant)
    trial = trials.trial_for_tenant(tenant=tenant, now=timezone.now())
    had_trial = selectors.tenant_had_trial(tenant=tenant) or subscription is not None
    return {
        "tenant": tenant,
        "subscription": subscription,
        "trial": trial,
        "plans": list(PLANS.values()),
        # Checkout offers the trial only to an account that never had one.
        "trial_days": 0 if had_trial else trial_days(),
        "plan_name": PLANS[subscription.plan].name if subscription and subscription.plan else "",
        "customer": selectors.customer_for_tenant(tenant=tenant),
        # A running trial is finished by adding a card, not by a second Checkout.
        "can_subscribe": (subscription is None or subscription.status in selectors.ENDED)
        and not (trial is not None and trial.running),
        "now": timezone.now(),  # the status says when Stripe last spoke and whether the period ended
        # Seed 001's referral program: the link a paying owner shares (/signup/?ref=CODE).
        "referral_url": f"{selectors.site_url('signup')}?ref={tenant.referral_code}" if tenant.referral_code else "",
        **extra,
    }


@login_required
@require_POST
def billing_checkout(request: HttpRequest) -> HttpResponse:
    tenant = _owned_tenant(request)
    try:
        target = services.checkout_session_create(
            tenant=tenant, plan_key=request.POST.get("plan", ""), actor=request.user, now=timezone.now()
        )
    except ValidationError as exc:
        return _home_with_error(request, tenant, " ".join(exc.messages))
    except services.BillingError as exc:
        return _home_with_error(request, tenant, _owner_message(exc, tenant))
    return redirect(target.url)


@login_required
@require_POST
def billing_manage(request: HttpRequest) -> HttpResponse:
    tenant = _owned_tenant(request)
    try:
        target = services.portal_session_create(
            tenant=tenant, now=timezone.now(), return_url=selectors.site_url("billing:home")
        )
    except services.BillingError as exc:
        return _home_with_error(request, tenant, _owner_message(exc, tenant))
    return redirect(target.url)


@login_required
@require_POST
def billing_card(request: HttpRequest) -> HttpResponse:
    """“Add a card”: Stripe's portal on its payment-method page (the trial is created in
    Stripe first if the tick has not done it yet)."""
    tenant = _owned_tenant(request)
    try:
        target = trials.trial_card_session_create(
            tenant=tenant, now=timezone.now(), return_url=selectors.site_url("billing:home")
        )
    except services.BillingError as exc:
        return _home_with_error(request, tenant, _owner_message(exc, tenant))
    return redirect(target.url)


def _owner_message(exc: services.BillingError, tenant: Tenant) -> str:
    """What the owner reads. A missing setting is the operator's to fix: it goes to the log,
    and the owner gets words about their account, never a setting's name."""
    if isinstance(exc, services.BillingUnavailable):
        logger.warning("billing unavailable for %s: %s", tenant.external_id, exc)
        return services.BillingUnavailable.OWNER_MESSAGE
    return str(exc)


def _home_with_error(request: HttpRequest, tenant: Tenant, error: str) -> HttpResponse:
    return render(request, "billing/home.html", _home_context(tenant, error=error), status=400)


@require_GET
def portal_for_tenant(request: HttpRequest, token: str) -> HttpResponse:
    """The link in dunning emails and SMS: a fresh portal session on every click, so an old
    message's link still works. The signed token is the credential (the owner may read the
    email on a phone that is not signed in); a forged, expired or foreign one is a 404."""
    tenant = selectors.portal_token_read(token=token)
    if tenant is None:
        raise Http404("This billing link is not valid any more. Sign in to manage billing.")
    if request.user.is_authenticated:
        # A signed-in tenant user following another account's link: not theirs to open.
        own = {m.tenant_id for m in memberships_of(user=request.user)}
        if own and tenant.id not in own:
            raise Http404("This billing link is not valid any more. Sign in to manage billing.")
    try:
        target = services.portal_session_create(
            tenant=tenant, now=timezone.now(), return_url=selectors.site_url("login")
        )
    except services.BillingError as exc:
        error = _owner_message(exc, tenant)
        return render(request, "billing/portal_unavailable.html", {"error": error}, status=503)
    return redirect(target.url)


@csrf_exempt  # Stripe signs the body; it cannot send a CSRF token
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    try:
        result = stripe_event_process(payload=request.body, signature=request.headers.get("Stripe-Signature"), now=now)
    except WebhookRejected as exc:
        logger.warning("stripe webhook rejected from %s: %s", request.META.get("REMOTE_ADDR"), exc)
        webhook_tally(provider="stripe", outcome="rejected", now=now)
        return JsonResponse({"error": str(exc)}, status=400)
    except Exception:
        # A 500: Stripe retries it for three days. Counted so status shows it meanwhile.
        webhook_tally(provider="stripe", outcome="failed", now=now)
        raise
    webhook_tally(provider="stripe", outcome="accepted", now=now)
    return JsonResponse({"received": result.event_id, "duplicate": result.duplicate})
