"""The cockpit's pages. Views parse the request, call selectors and render; nothing more."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.http import require_GET

from alerts import selectors as alert_selectors
from billing import selectors as billing_selectors
from billing import trials as billing_trials
from core.access import staff_required
from core.charts import sparkline
from core.paging import paged
from core.roles import Ability, has_staff_role, may
from health import selectors as health_selectors
from lifecycle import selectors as lifecycle_selectors
from lifecycle.models import Opportunity
from onboarding import selectors as onboarding_selectors
from playbooks import selectors as playbook_selectors
from qa import selectors as qa_selectors
from tenants import selectors as tenant_selectors
from tenants.models import HealthBucket, Tenant
from tenants.services import tenant_view_record
from tenants.validators import parse_id
from tenants.views import NoteForm

from . import home, status
from .churn import churn_form_for
from .timeline import KIND_GROUPS, row_from, tenant_timeline

TENANTS_PER_PAGE = 25
HISTORY_DAYS = 60
NOTES_ON_PAGE = 3
OPPORTUNITIES_ON_PAGE = 5  # the newest; the pipeline page has the rest
TIMELINE_ON_PAGE = 15
TIMELINE_PER_PAGE = 50


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: with the manifest storage the hashed name exists only after
    # collectstatic, which must not be needed to import the URLconf.
    return HttpResponsePermanentRedirect(static("favicon.svg"))


@login_required
def after_login(request: HttpRequest) -> HttpResponse:
    """Staff land in the cockpit, owners in their onboarding wizard, members on their account page."""
    if has_staff_role(request.user):
        # Billing ops' work is the past-due queue; everyone else's starts on the cockpit's home.
        if not may(request.user, Ability.ACT_ON_TENANTS) and may(request.user, Ability.WORK_BILLING_QUEUE):
            return redirect("billing-ops:queue")
        return redirect("cockpit:overview")
    if tenant_selectors.tenant_owned_by(user=request.user) is not None:
        return redirect("onboarding:wizard")
    return redirect("account")


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    memberships = tenant_selectors.memberships_of(user=request.user)
    return render(request, "cockpit/account.html", {"memberships": memberships})


@staff_required()
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """Home: today's work, the book by health, the alert queue's head (billing ops land on
    the past-due queue after logging in, and can still open this)."""
    scope, note = request.GET.get("scope", ""), ""
    if scope not in home.SCOPES:
        asked, scope = scope, home.default_scope(request.user)
        if asked:
            note = f"“{asked[:20]}” is not a view of the cockpit: showing {home.SCOPES[scope].lower()}."
    context = {
        "home": home.home_for(user=request.user, scope=scope, now=timezone.now()),
        "scopes": home.SCOPES,
        "note": note,
        "now": timezone.now(),
    }
    return render(request, "cockpit/home.html", context)


@staff_required()
@require_GET
def system_status(request: HttpRequest) -> HttpResponse:
    """Is the machinery running: the tick, the task queue, the outbox, webhooks, ingest."""
    return render(request, "cockpit/status.html", {"reading": status.system_status(now=timezone.now())})


@staff_required()
@require_GET
def tenant_detail(request: HttpRequest, external_id: str) -> HttpResponse:
    """The tenant 360: health with its reasons and trend, then the timeline."""
    tenant = tenant_selectors.tenant_get_for_staff(external_id=external_id)
    now = timezone.now()
    history = list(
        health_selectors.score_history(tenant=tenant, since=now.date() - timedelta(days=HISTORY_DAYS)).values_list(
            "day", "score"
        )
    )
    subscription = billing_selectors.subscription_for_tenant(tenant=tenant)
    score = health_selectors.latest_score(tenant=tenant)
    tenant_view_record(actor=request.user, tenant=tenant, now=now, ip=request.META.get("REMOTE_ADDR"))
    return render(
        request,
        "cockpit/tenant_detail.html",
        {
            "tenant": tenant,
            "score": score,
            "trend": sparkline(history),
            "week_change": health_selectors.week_over_week_change(tenant=tenant, today=now.date()),
            "renewal_days_left": (tenant.contract_ends_on - now.date()).days if tenant.contract_ends_on else None,
            "days_of_data": health_selectors.days_of_data(tenant=tenant, as_of=score.computed_at) if score else 0,
            "timeline": [row_from(r) for r in tenant_timeline(tenant=tenant)[:TIMELINE_ON_PAGE]],
            "kind_groups": KIND_GROUPS,
            # The pinned note and the newest few; the notes page has them all, paged.
            "notes": tenant_selectors.notes_for_tenant(tenant=tenant)[:NOTES_ON_PAGE],
            "notes_total": tenant_selectors.notes_for_tenant(tenant=tenant).count(),
            "note_form": NoteForm(),
            "qa": qa_selectors.tenant_qa_summary(tenant=tenant),
            "opportunities": list(lifecycle_selectors.opportunities_of_tenant(tenant=tenant)[:OPPORTUNITIES_ON_PAGE]),
            "lost_reasons": Opportunity.LostReason.choices,
            "referred_count": tenant_selectors.referrals_of(tenant=tenant).count(),
            "support": health_selectors.support_summary(
                tenant=tenant, targets=settings.SUPPORT_SLA_HOURS.get(tenant.plan, (4, 24)), now=now
            ),
            "cs_team": tenant_selectors.cs_team_members() if may(request.user, Ability.ACT_ON_TENANTS) else [],
            "team_timezone": settings.CS_TEAM_TIMEZONE,
            "tomorrow": now.date() + timedelta(days=1),
            "checklist": onboarding_selectors.checklist_for(tenant=tenant),
            "touchpoints": playbook_selectors.tenant_touchpoint_state(tenant=tenant, now=now),
            "tenant_alerts": alert_selectors.tenant_alerts(tenant=tenant, user=request.user),
            "subscription": subscription,
            "trial": billing_trials.trial_for_tenant(tenant=tenant, now=now, subscription=subscription),
            "churn_form": churn_form_for(tenant),
            "can_act": may(request.user, Ability.ACT_ON_TENANTS),
            "now": now,
        },
    )


@staff_required()
@require_GET
def tenant_list(request: HttpRequest) -> HttpResponse:
    params = request.GET
    # Each filter's choices; a value that is not one of them is dropped with a note, never a 500.
    choices = {
        "plan": set(Tenant.Plan.values),
        "stage": set(Tenant.LifecycleStage.values),
        "bucket": set(HealthBucket.values),
        "sort": set(tenant_selectors.TENANT_SORTS),
        "onboarding": set(dict(onboarding_selectors.ONBOARDING_STAGES)),
        "billing": set(dict(billing_selectors.BILLING_STATES)),
        "renewal": set(dict(tenant_selectors.RENEWAL_WINDOWS)),
        "risk": set(dict(tenant_selectors.RISK_LEVELS)),
    }
    chosen: dict[str, str] = {}
    for name, allowed in choices.items():
        raw = params.get(name, "")
        if raw and raw not in allowed:
            messages.warning(request, f"“{raw[:30]}” is not a {name} filter; it was ignored.")
        elif raw:
            chosen[name] = raw
    filters = tenant_selectors.TenantListFilters(
        q=params.get("q", "").replace("\x00", "").strip()[:100],
        plan=chosen.get("plan", ""),
        segment=params.get("segment", "").replace("\x00", "")[:64],
        csm="none" if params.get("csm") == "none" else str(parse_id(params.get("csm")) or ""),
        stage=chosen.get("stage", ""),
        bucket=chosen.get("bucket", ""),
        # The renewal filter lists the soonest contract end first unless a sort is asked for.
        sort=chosen.get("sort", "renewal" if chosen.get("renewal") else "name"),
    )
    onboarding_stage, billing_state = chosen.get("onboarding", ""), chosen.get("billing", "")
    tenants = onboarding_selectors.tenants_in_onboarding_stage(
        tenant_selectors.tenants_for_staff(filters=filters), onboarding_stage
    )
    tenants = billing_selectors.tenants_in_billing_state(tenants, billing_state, now=timezone.now())
    renewal = chosen.get("renewal", "")
    if renewal:
        tenants = tenant_selectors.tenants_renewing_within(tenants, int(renewal), today=timezone.now().date())
    if chosen.get("risk"):
        tenants = tenant_selectors.tenants_at_risk(tenants, chosen["risk"])
    # The monthly report's churn figure: customers the month began with that churned during it.
    churned_month = None
    if raw_month := params.get("churned", ""):
        try:
            churned_month = date.fromisoformat(f"{raw_month[:7]}-01") if len(raw_month) == 7 else None
        except ValueError:
            churned_month = None
        if churned_month is None:
            messages.warning(request, f"“{raw_month[:30]}” is not a month (YYYY-MM); the churned filter was ignored.")
        else:
            tenants = tenant_selectors.tenants_churned_in(tenants, churned_month)
    # The funnel's steps: "reached" keeps tenants that completed one and every step before it.
    steps = onboarding_selectors.reachable_steps()
    reached_raw = params.get("reached", "")
    reached = next((m for m in steps if str(m.pk) == reached_raw), None)
    if reached_raw and reached is None:
        messages.warning(request, f"“{reached_raw[:30]}” is not a step of the onboarding funnel; it was ignored.")
    if reached is not None:
        tenants = onboarding_selectors.tenants_reached(tenants, step=reached, steps=steps)
    listing = paged(tenants, params, per_page=TENANTS_PER_PAGE)
    query_without_sort = params.copy()
    for name in ("page", "sort"):
        query_without_sort.pop(name, None)
    context = {
        "page": listing.page,
        "paged": listing,
        "filters": filters,
        "plans": Tenant.Plan.choices,
        "stages": Tenant.LifecycleStage.choices,
        "buckets": HealthBucket.choices,
        "onboarding_stages": onboarding_selectors.ONBOARDING_STAGES,
        "onboarding_stage": onboarding_stage,
        "billing_states": billing_selectors.BILLING_STATES,
        "billing_state": billing_state,
        "renewal_windows": tenant_selectors.RENEWAL_WINDOWS,
        "renewal": renewal,
        "risk_levels": tenant_selectors.RISK_LEVELS,
        "risk": chosen.get("risk", ""),
        "churned_month": churned_month,
        "funnel_steps": steps,
        "reached": reached,
        "segments": tenant_selectors.tenant_segments(),
        "csms": tenant_selectors.csm_choices(),
        "query_without_sort": query_without_sort.urlencode(),
    }
    template = "cockpit/tenant_list.html#tenant-table" if request.htmx else "cockpit/tenant_list.html"
    return render(request, template, context)


@staff_required()
@require_GET
def tenant_timeline_page(request: HttpRequest, external_id: str) -> HttpResponse:
    """Everything that happened to a tenant, paged, with its business events, by kind."""
    tenant = tenant_selectors.tenant_get_for_staff(external_id=external_id)
    group, note = request.GET.get("kind", ""), ""
    if group and group not in KIND_GROUPS:
        note, group = f"“{group[:30]}” is not a kind of entry: showing everything.", ""
    page = paged(tenant_timeline(tenant=tenant, group=group), request.GET, per_page=TIMELINE_PER_PAGE)
    return render(
        request,
        "cockpit/tenant_timeline.html",
        {
            "tenant": tenant,
            "paged": page,
            "rows": [row_from(r) for r in page.rows],
            "group": group,
            "kind_groups": KIND_GROUPS,
            "filter_note": note,
        },
    )
