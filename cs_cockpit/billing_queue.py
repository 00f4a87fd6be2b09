"""The past-due queue at /admin/billing/ (CONTRACTS.md → Pages): billing ops see each past-due
tenant with its amount due, retry progress, card, dunning progress, CSM and health on one
row, and act on it there. Also cards expiring within 30 days, Stripe objects no tenant
matched, and the revenue figures. It composes billing's and playbooks' reads; the writes are
their services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from billing import churn as billing_churn
from billing import revenue as billing_revenue
from billing import selectors as billing
from billing import services as billing_services
from billing import trials as billing_trials
from billing.models import Subscription
from billing.services import ESCALATION_PURPOSE
from core.access import staff_required
from core.charts import columns
from core.http import safe_next
from core.paging import paged
from core.roles import Ability
from messaging.models import Message
from messaging.selectors import NOT_SENT, latest_by_topic
from playbooks.dunning import DunningProgress, dunning_progress, portal_link_resend

from .churn import churn_form_for

ACTIONS = ("resend", "contacted", "pause", "resume", "escalate")


@dataclass
class QueueRow:
    subscription: Subscription
    days_past_due: int
    dunning: DunningProgress | None
    escalation_email: Message | None  # the latest email to the CSM about this subscription

    @property
    def escalation_email_failed(self) -> bool:
        return self.escalation_email is not None and self.escalation_email.status in NOT_SENT


def _rows(subscriptions: list[Subscription], now: datetime) -> list[QueueRow]:
    progress = dunning_progress(tenant_ids=[s.tenant_id for s in subscriptions])
    emails = latest_by_topic(purpose=ESCALATION_PURPOSE, topics=[f"subscription:{s.id}" for s in subscriptions])
    return [
        QueueRow(s, billing.days_past_due(s, now), progress.get(s.tenant_id), emails.get(f"subscription:{s.id}"))
        for s in subscriptions
    ]


PAST_DUE_PER_PAGE = 25


@staff_required(Ability.WORK_BILLING_QUEUE)
@require_GET
def past_due_queue(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    # Oldest episode first, 25 a page: the pager says how many in all, and the header counts them all.
    page = paged(billing.past_due_subscriptions(), request.GET, per_page=PAST_DUE_PER_PAGE)
    context = {
        "rows": _rows(page.rows, now),
        "paged": page,
        "expiring": billing.cards_expiring(now=now, days=30),
        "unmatched": list(billing.unmatched_subscriptions()[:50]),
        "unmatched_events": list(billing.unmatched_events(limit=20)),
        "summary": billing_revenue.revenue_summary(now=now),
        "now": now,
        # Churn: reasons to record (a form per tenant), and trials that ended without a card.
        "churned": [(t, churn_form_for(t)) for t in billing_churn.churned_recently(now=now)],
        "lapsed_trials": billing_trials.trials_lapsed(limit=50),
    }
    return render(request, "cockpit/billing_queue.html", context)


def _perform(request: HttpRequest, subscription: Subscription, action: str, now: datetime) -> str:
    note = request.POST.get("note", "")
    if action == "resend":
        result = portal_link_resend(
            subscription=subscription,
            email=request.POST.get("email") == "1",
            sms=request.POST.get("sms") == "1",
            actor=request.user,
            now=now,
        )
        if not result.sent:
            raise ValidationError({"channels": "Nothing was sent: " + "; ".join(result.failed)})
        return "Sent: " + ", ".join(result.sent) + (f" (failed: {'; '.join(result.failed)})" if result.failed else "")
    if action == "contacted":
        billing_services.subscription_mark_contacted(subscription=subscription, note=note, actor=request.user, now=now)
        return "Marked as contacted"
    if action == "pause":
        billing_services.subscription_dunning_pause(subscription=subscription, note=note, actor=request.user, now=now)
        return "Dunning paused: the next tick stops its messages"
    if action == "resume":
        billing_services.subscription_dunning_resume(subscription=subscription, actor=request.user, now=now)
        return "Dunning resumed: the next tick sends what is still due"
    escalation = billing_services.subscription_escalate(
        subscription=subscription, note=note, actor=request.user, now=now
    )
    return escalation.summary


@staff_required(Ability.WORK_BILLING_QUEUE)
@require_POST
def queue_action(request: HttpRequest, subscription_id: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404(f"“{action}” is not something one can do to a past-due subscription.")
    subscription = billing.subscription_for_ops(subscription_id=subscription_id)
    now = timezone.now()
    error, done = "", ""
    try:
        done = _perform(request, subscription, action, now)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if request.htmx:
        fresh = billing.subscription_for_ops(subscription_id=subscription_id)
        context: dict[str, Any] = {"row": _rows([fresh], now)[0], "error": error, "done": done, "now": now}
        if error:  # the refused form shows what was sent, beside the error, to be corrected
            context["posted"] = request.POST
        # 422 with the row: htmx swaps it like a success (base.html), the error in place in every mode.
        return render(request, "cockpit/billing_queue.html#queue-row", context, status=422 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{done}: {subscription.tenant.name}.")
    return redirect(safe_next(request, default="billing-ops:queue"))


@staff_required(Ability.SEE_REVENUE)
@require_GET
def revenue(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    months = billing_revenue.revenue_months(now=now, months=12)
    context = {
        "summary": billing_revenue.revenue_summary(now=now),
        "months": months,
        # MRR at each month's end, in whole dollars; revenue_months is oldest first.
        "mrr_chart": columns([(f"{m.month:%b}", round(m.end_mrr_cents / 100)) for m in months], prefix="$"),
        "recovery": billing_revenue.recovery_report(now=now),
        "now": now,
    }
    return render(request, "cockpit/billing_revenue.html", context)
