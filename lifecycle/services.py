"""The lifecycle's writes that people make: moving an expansion opportunity along."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from billing.plans import PLANS
from core.events import AuditAction, TimelineKind
from tenants.services import Actor, audit_record, timeline_record

from .models import Opportunity

# Where each stage may go: proposed only from open, and a closed one stays closed.
NEXT_STAGES = {
    Opportunity.Stage.OPEN: (Opportunity.Stage.PROPOSED, Opportunity.Stage.WON, Opportunity.Stage.LOST),
    Opportunity.Stage.PROPOSED: (Opportunity.Stage.WON, Opportunity.Stage.LOST),
}


def _snapshot(opportunity: Opportunity) -> dict[str, object]:
    return {
        "stage": opportunity.stage,
        "lost_reason": opportunity.lost_reason,
        "note": opportunity.note,
        "won_mrr_cents": opportunity.won_mrr_cents,
    }


def opportunity_move(
    *,
    opportunity: Opportunity,
    stage: str,
    actor: Actor,
    now: datetime,
    lost_reason: str = "",
    note: str = "",
    ip: str | None = None,
) -> Opportunity:
    """Open → proposed → won or lost (with one of LostReason). Won records the MRR the
    suggested plan adds; the plan itself changes in Stripe, whose webhook moves the tenant.
    Audited and on the timeline; a move a closed or already-moved opportunity cannot make is
    an error that names the stage it is in."""
    note = (note or "").strip()
    if stage not in Opportunity.Stage.values:
        raise ValidationError({"stage": [f"“{str(stage)[:20]}” is not a stage: proposed, won or lost."]})
    if stage == Opportunity.Stage.LOST and lost_reason not in Opportunity.LostReason.values:
        choices = ", ".join(str(label).lower() for label in Opportunity.LostReason.labels)
        raise ValidationError({"lost_reason": [f"Say why it was lost: {choices}."]})
    if len(note) > 500:
        raise ValidationError({"note": [f"The note is {len(note)} characters; at most 500."]})
    with transaction.atomic():
        # Locked: two people moving it at once apply in turn, and the second sees the first's stage.
        locked = Opportunity.all_tenants.select_for_update().select_related("tenant").get(pk=opportunity.pk)
        allowed = NEXT_STAGES.get(locked.stage, ())
        if stage not in allowed:
            since = f" since {locked.stage_changed_at:%-d %b}" if locked.stage not in Opportunity.LIVE else ""
            stage_now = locked.get_stage_display().lower()
            problem = f"This opportunity is {stage_now}{since}: it cannot be moved to {stage}."
            raise ValidationError({"stage": [problem]})
        before = _snapshot(locked)
        locked.stage = stage
        locked.stage_changed_at = now
        locked.note = note or locked.note
        if stage == Opportunity.Stage.LOST:
            locked.lost_reason = lost_reason
        if stage in (Opportunity.Stage.WON, Opportunity.Stage.LOST):
            locked.closed_at = now
        if stage == Opportunity.Stage.WON:
            locked.won_mrr_cents = locked.mrr_delta_cents
        locked.save()
        plan = PLANS[locked.suggested_plan].name
        summary = {
            Opportunity.Stage.PROPOSED: f"Expansion proposed: {plan}",
            Opportunity.Stage.WON: f"Expansion won: {plan} (+${locked.mrr_delta_cents / 100:,.0f} MRR)",
            Opportunity.Stage.LOST: f"Expansion lost ({locked.get_lost_reason_display().lower()}): {plan}",
        }[stage]
        timeline_record(
            tenant=locked.tenant,
            at=now,
            kind=TimelineKind.EXPANSION_STAGE,
            summary=summary + (f" — {note[:200]}" if note else ""),
            data={"opportunity": locked.pk, "stage": stage, "lost_reason": locked.lost_reason},
        )
        audit_record(
            actor=actor,
            action=AuditAction.OPPORTUNITY_STAGE,
            target=locked,
            tenant=locked.tenant,
            at=now,
            before=before,
            after=_snapshot(locked),
            ip=ip,
        )
    return locked
