"""Referral rewards for billing ops (/admin/customer-success/referrals/): the months free to
apply in Stripe, and the form that marks one applied."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.access import staff_required
from core.http import safe_next
from core.paging import paged
from core.roles import Ability, may

from . import referrals, selectors


@staff_required()
@require_GET
def referral_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "pending")
    notes = []
    if status not in selectors.REWARD_STATUSES:
        notes.append(f"“{status[:30]}” is not a status: showing the rewards to apply.")
        status = "pending"
    page = paged(selectors.referral_rewards(status=status), request.GET)
    context = {
        "rewards": page.rows,
        "paged": page,
        "notes": notes,
        "status": status,
        "statuses": selectors.REWARD_STATUSES,
        "status_label": selectors.REWARD_STATUSES[status],
        "can_apply": may(request.user, Ability.WORK_BILLING_QUEUE),
    }
    return render(request, "lifecycle/referrals.html", context)


@staff_required(Ability.WORK_BILLING_QUEUE)
@require_POST
def referral_reward_apply(request: HttpRequest, reward_id: int) -> HttpResponse:
    reward = selectors.referral_reward_get_for_staff(reward_id=reward_id)
    try:
        applied = referrals.referral_reward_apply(
            reward=reward, actor=request.user, now=timezone.now(), note=request.POST.get("note", "")
        )
    except ValidationError as exc:
        messages.error(request, f"{reward.tenant.name}: " + " ".join(exc.messages))
    else:
        messages.success(request, f"{applied.tenant.name}: {applied.reward.lower()} marked applied.")
    return redirect(safe_next(request, default="cockpit:referrals", under="/admin/customer-success/"))
