"""The lifecycle's periodic jobs, after the playbooks: the renewal runway (order 45), the
expansion pipeline's daily sweep (46), the post-resolution survey (47), referral rewards (48) and
Monday's weekly evidence email (49), the quarterly NPS survey (50)."""

from datetime import datetime

from core import ticks

from . import csat, evidence, expansion, nps_cadence, referrals, renewals


@ticks.register("lifecycle.renewals", order=45)
def renewal_runway(now: datetime) -> str:
    made = renewals.renewal_runway_advance(now=now)
    return f"{made} renewal task(s) created"


@ticks.register("lifecycle.expansion", order=46)
def expansion_pipeline(now: datetime) -> str:
    result = expansion.expansion_sweep(now=now)
    if result is None:
        return "today's expansion sweep already ran"
    opened, won = result
    return f"{opened} expansion opportunit{'y' if opened == 1 else 'ies'} opened, {won} won by a plan change"


@ticks.register("lifecycle.csat", order=47)
def post_resolution_surveys(now: datetime) -> str:
    asked = csat.csat_asks_send(now=now)
    return f"{asked} satisfaction survey(s) sent for resolved tickets"


@ticks.register("lifecycle.referrals", order=48)
def referral_rewards(now: datetime) -> str:
    made = referrals.referral_rewards_make(now=now)
    return f"{made} referral(s) rewarded (two months free to apply each)"


@ticks.register("lifecycle.evidence", order=49)
def weekly_evidence(now: datetime) -> str:
    sent = evidence.evidence_emails_send(now=now)
    return f"{sent} weekly evidence email(s) queued"


@ticks.register("lifecycle.nps", order=50)
def quarterly_nps(now: datetime) -> str:
    asked = nps_cadence.quarterly_nps_send(now=now)
    return f"{asked} quarterly NPS survey(s) sent"
