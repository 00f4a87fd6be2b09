"""Referrals (issue 16 §6, seed 001: "Refer a friend, both get 1 month free"). A signup that
came through a tenant's link records `Tenant.referred_by`; once the referred tenant pays (its
subscription is active in the Stripe mirror), the tick makes both rewards — one for the
referrer, one for the referred — for billing ops to apply in Stripe and mark applied here."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from billing.models import Subscription, SubscriptionStatus
from core.events import AuditAction, TimelineKind
from tenants.models import Tenant
from tenants.services import Actor, audit_record, timeline_record

from .models import ReferralReward


def referral_rewards_make(*, now: datetime) -> int:
    """Rewards for every referred tenant that pays and has none yet. Cheap when there are no
    referrals: one query."""
    if not Tenant.objects.filter(referred_by__isnull=False).exists():
        return 0  # no referral at all (most installations, most ticks): one indexed query
    paying = Subscription.all_tenants.filter(tenant_id=OuterRef("pk"), status=SubscriptionStatus.ACTIVE)
    rewarded = ReferralReward.all_tenants.filter(referred_id=OuterRef("pk"))
    due = (
        Tenant.objects.filter(referred_by__isnull=False)
        .filter(Exists(paying))
        .exclude(Exists(rewarded))
        .exclude(lifecycle_stage=Tenant.LifecycleStage.CHURNED)
        .select_related("referred_by")
        .order_by("id")
    )
    made = 0
    for referred in due:
        try:
            with transaction.atomic():
                # The unique (referred, side) rows are the guard: two ticks at once make one pair.
                for tenant, side in ((referred.referred_by, "referrer"), (referred, "referee")):
                    ReferralReward.objects.create(tenant=tenant, referred=referred, side=side, created_at=now)
                    other = referred if side == "referrer" else referred.referred_by
                    timeline_record(
                        tenant=tenant,
                        at=now,
                        kind=TimelineKind.REFERRAL_REWARD,
                        summary=(
                            f"Referral: {other.name} signed up through {tenant.name}'s link and pays — one month free "
                            "for billing ops to apply"
                            if side == "referrer"
                            else f"Referral: signed up through {other.name}'s link and pays — one month free for "
                            "billing ops to apply"
                        ),
                        data={"referred": referred.external_id, "side": side},
                    )
        except IntegrityError:
            continue
        made += 1
    return made


def referral_reward_apply(*, reward: ReferralReward, actor: Actor, now: datetime, note: str = "") -> ReferralReward:
    """Billing ops applied the month in Stripe (a coupon or a credit): recorded, audited, on
    the tenant's timeline. Applying twice is an error that says when it was applied."""
    note = note.strip()
    if len(note) > 300:
        raise ValidationError({"note": [f"The note is {len(note)} characters; at most 300."]})
    with transaction.atomic():
        # Locked: two people applying at once apply it once.
        locked = ReferralReward.all_tenants.select_for_update().select_related("tenant").get(pk=reward.pk)
        if locked.status == ReferralReward.Status.APPLIED:
            raise ValidationError(f"This reward was applied on {locked.applied_at:%-d %b %Y}.")
        locked.status, locked.applied_at, locked.applied_by, locked.note = "applied", now, actor, note
        locked.save(update_fields=["status", "applied_at", "applied_by", "note"])
        timeline_record(
            tenant=locked.tenant,
            at=now,
            kind=TimelineKind.REFERRAL_REWARD,
            summary=f"Referral reward applied: {locked.reward.lower()}" + (f" — {note}" if note else ""),
            data={"reward": locked.pk, "status": "applied"},
        )
        audit_record(
            actor=actor,
            action=AuditAction.REFERRAL_REWARD_APPLY,
            target=locked,
            tenant=locked.tenant,
            at=now,
            before={"status": "pending"},
            after={"status": "applied", "note": note},
        )
    return locked
