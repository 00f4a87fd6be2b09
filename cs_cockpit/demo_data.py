"""Realistic demo data for `manage.py seed_demo` and `make demo`: tenants of an AI-receptionist
SaaS (the CloudGreet seed) on the three plans of the CS strategy seed, signed up over the
last D days, in many time zones, owned by a small CS team. Deterministic for a given seed.

Each tenant gets one story, chosen once (STORIES): how it onboards, how it then uses the
product and what happens with its bill. Every part is told from that story through the real
services — onboarding first, usage from the day the wizard was done (no calls before the
number exists), Stripe's webhooks (a cancellation on the day usage stopped), then a daily
score history, a replayed month of touchpoints and the alerts the rules open — so a tenant's
score, onboarding, billing, alerts and touchpoints agree (tests/test_demo_story.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction

from alerts.services import rules_evaluate
from billing.demo import TRIAL_DAYS, BillingPlan, seed_subscriptions
from core.roles import StaffRole
from health.demo import UsagePlan, seed_usage_history
from health.services import health_backfill_history, health_models_from_seeds, health_recompute_all
from lifecycle.demo import seed_advocacy, seed_contracts, seed_csat_answers, seed_opportunities
from onboarding.demo import seed_onboarding, seed_onboarding_settle
from playbooks.demo import seed_touchpoint_history
from qa.demo import seed_qa_reviews
from tenants.models import ChurnReason, ConsentSource, Membership, Tenant
from tenants.notes import note_add
from tenants.services import membership_create, tenant_create, tenant_mark_churned

# The CS team owns the tenants. `make demo` prints a login for the lead, who also carries a
# CSM's book (so the cockpit opens on their own tenants, alerts and tasks), and one for
# billing ops, who work the past-due queue.
DEMO_LOGIN = "alex.chen"
DEMO_BILLING_LOGIN = "bea.lopez"
CSM_TEAM = [
    ("alex.chen", "Alex", "Chen", (StaffRole.CS_LEAD, StaffRole.CSM)),
    ("maria.gomez", "Maria", "Gomez", (StaffRole.CSM,)),
    ("sam.okafor", "Sam", "Okafor", (StaffRole.CSM,)),
    ("priya.nair", "Priya", "Nair", (StaffRole.CSM,)),
    ("jonas.berg", "Jonas", "Berg", (StaffRole.CSM,)),
]
BILLING_TEAM = [("bea.lopez", "Bea", "Lopez", (StaffRole.BILLING_OPS,))]


@dataclass(frozen=True)
class Story:
    """A tenant's whole demo life. `onboarding` is an onboarding.demo state, `usage` a
    health.demo archetype (None: it never went live, so there is no usage at all), `billing`
    the billing.demo stories it may have after its trial (one is drawn)."""

    name: str
    weight: int
    onboarding: str
    usage: str | None
    billing: tuple[str, ...]
    churn_reasons: tuple[str, ...] = ()


STORIES = [
    Story(
        "champion", 24, "day0", "champion", ("active", "active", "active", "upgraded", "upgraded", "recovered_early")
    ),
    Story("steady", 18, "slow", "steady", ("active", "active", "recovered_late", "recovered_early")),
    # A happy customer whose card failed: healthy usage, past due — billing ops' work, not the CSM's.
    Story("card_trouble", 6, "day0", "steady", ("past_due", "recovered_late")),
    Story("fading", 12, "slow", "fading", ("active", "active", "past_due", "cancel_at_period_end")),
    Story("struggling", 8, "slow", "struggling", ("active", "past_due", "recovered_late")),
    Story("gone_quiet", 4, "day0", "dormant", ("active",)),
    # Stuck halfway through the wizard: no number, no calls. Most let the trial lapse.
    Story(
        "stalled",
        10,
        "stalled",
        None,
        ("trial_lapsed", "trial_lapsed", "active", "past_due", "unpaid"),
        (ChurnReason.NO_VALUE,),
    ),
    Story("abandoned", 6, "abandoned", None, ("trial_lapsed",), (ChurnReason.NO_VALUE,)),
    # Went live, faded and canceled: usage stops on the day the subscription is canceled.
    Story(
        "churner",
        12,
        "day0",
        "churner",
        ("canceled",),
        (ChurnReason.NO_VALUE, ChurnReason.PRICE, ChurnReason.COMPETITOR, ChurnReason.PRODUCT_GAP),
    ),
]


@dataclass(frozen=True)
class TenantStory:
    story: Story
    billing: str
    churn_at: datetime | None  # when it leaves (a lapsed trial, a cancellation); None: it stays
    churn_reason: str


def story_for(*, tenant: Tenant, now: datetime, seed: int) -> TenantStory:
    """The tenant's story, drawn once from its id (the same on every run for the same seed)."""
    rng = random.Random(f"{seed}-story-{tenant.external_id}")
    story = rng.choices(STORIES, weights=[s.weight for s in STORIES])[0]
    billing = rng.choice(story.billing)
    reason = rng.choice(story.churn_reasons) if story.churn_reasons else ""
    trial_end = tenant.signed_up_at + timedelta(days=TRIAL_DAYS)
    churn_at = None
    if billing == "trial_lapsed" and trial_end <= now:
        churn_at = trial_end
    elif billing == "canceled" and (now - trial_end).days >= 6:
        # Some days into paying, never in the future; usage fades until this day and stops.
        churn_at = trial_end + timedelta(days=rng.uniform(3, (now - trial_end).days - 1))
    if churn_at is not None:
        churn_at = churn_at.replace(microsecond=0)  # Stripe's times are whole seconds
    return TenantStory(story=story, billing=billing, churn_at=churn_at, churn_reason=reason)


SEGMENTS = ["Home services", "Dental clinics", "Law firms", "Real estate", "Salons & spas", "Auto repair"]
NAME_STEMS = [
    "Summit",
    "Harbor",
    "Maple",
    "Cedar",
    "Bright",
    "Northside",
    "Riverside",
    "Golden",
    "Pioneer",
    "Evergreen",
    "Blue Ridge",
    "Lakeside",
    "Keystone",
    "Redwood",
    "Silverline",
    "Oakmont",
    "Prairie",
    "Coastal",
    "Granite",
    "Sunrise",
    "Metro",
    "Heritage",
    "Crescent",
    "Liberty",
]
NAME_SUFFIX = {
    "Home services": ["Plumbing", "HVAC", "Roofing", "Electric", "Landscaping"],
    "Dental clinics": ["Dental", "Family Dentistry", "Smiles", "Orthodontics"],
    "Law firms": ["Law Group", "Legal", "& Partners LLP", "Injury Law"],
    "Real estate": ["Realty", "Homes", "Property Group"],
    "Salons & spas": ["Salon", "Day Spa", "Barbers"],
    "Auto repair": ["Auto Care", "Motors", "Collision"],
}
FIRST_NAMES = [
    "Dana",
    "Luis",
    "Aisha",
    "Tom",
    "Mei",
    "Oliver",
    "Fatima",
    "Grace",
    "Ravi",
    "Chloe",
    "Ben",
    "Nora",
]
LAST_NAMES = ["Smith", "Garcia", "Khan", "Müller", "Rossi", "Tanaka", "Dubois", "Silva", "Brown", "Novak"]
# (timezone, phone country prefix and a known-valid subscriber pattern)
PLACES = [
    ("America/New_York", "+1212555{:04d}"),
    ("America/Chicago", "+1312555{:04d}"),
    ("America/Denver", "+1303555{:04d}"),
    ("America/Los_Angeles", "+1415555{:04d}"),
    ("Europe/London", "+4420794{:05d}"),
    ("Europe/Berlin", "+49151234{:05d}"),
    ("Australia/Sydney", "+614915{:05d}"),
]
PLAN_WEIGHTS = [(Tenant.Plan.STARTER, 55), (Tenant.Plan.PROFESSIONAL, 32), (Tenant.Plan.BUSINESS, 13)]


@dataclass(frozen=True)
class SeedResult:
    tenants_created: int
    tenants_existing: int
    events: int = 0
    scores: int = 0
    touchpoints: int = 0
    alerts: int = 0
    stripe_events: int = 0


def _demo_staff(team: list[tuple[str, str, str, tuple[str, ...]]]) -> list[AbstractBaseUser]:
    User = get_user_model()
    people = []
    for username, first, last, roles in team:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@cockpit.example"},
        )
        if created:
            user.set_unusable_password()  # `make demo` sets a password for the logins it prints
            user.save(update_fields=["password"])
        user.groups.add(*Group.objects.filter(name__in=roles))
        people.append(user)
    return people


def demo_staff_create() -> list[AbstractBaseUser]:
    """The CS team and billing ops (idempotent); answers the CSMs who own tenants."""
    _demo_staff(BILLING_TEAM)
    return _demo_staff(CSM_TEAM)


NOTES = [
    "Spoke with {owner}: busy season, they will finish setup next week. **Call back Monday.**",
    "Owner asked about the Business plan's extra numbers — possible expansion once calls pick up.",
    "Champion is the office manager, not the owner. Send recaps to both.",
    "Unhappy about a missed call last week; apologised and checked the routing together.",
]


def _seed_notes(*, now: datetime, rng: random.Random) -> None:
    """A few notes a CSM would have left on the accounts that worry them, one pinned."""
    worrying = Tenant.objects.filter(
        external_id__startswith="demo-", csm_owner__isnull=False, health_bucket__in=["at_risk", "critical"]
    ).select_related("csm_owner")
    for tenant in worrying.order_by("external_id"):
        if rng.random() < 0.5:
            body = rng.choice(NOTES).format(owner=tenant.owner_name or "the owner")
            note_add(tenant=tenant, actor=tenant.csm_owner, body=body, pinned=rng.random() < 0.3, now=now)


def seed_demo(*, tenants: int, days: int, now: datetime, seed: int = 2026) -> SeedResult:
    rng = random.Random(seed)
    csms = demo_staff_create()
    User = get_user_model()
    created = existing = 0
    for index in range(1, tenants + 1):
        external_id = f"demo-{index:04d}"
        # Draw every random value even for existing tenants so the sequence stays stable.
        segment = rng.choice(SEGMENTS)
        name = f"{rng.choice(NAME_STEMS)} {rng.choice(NAME_SUFFIX[segment])}"
        plan = rng.choices([p for p, _ in PLAN_WEIGHTS], weights=[w for _, w in PLAN_WEIGHTS])[0]
        timezone_name, phone_pattern = rng.choice(PLACES)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        signed_up_at = now - timedelta(days=rng.uniform(0, days))
        has_phone = rng.random() < 0.7
        csm = rng.choice(csms) if rng.random() < 0.85 else None
        if Tenant.objects.filter(external_id=external_id).exists():
            existing += 1
            continue
        with transaction.atomic():
            tenant = tenant_create(
                external_id=external_id,
                name=f"{name} #{index}" if Tenant.objects.filter(name=name).exists() else name,
                owner_email=f"{first}.{last}{index}@example.com".lower().replace("ü", "ue"),
                owner_name=f"{first} {last}",
                owner_phone=phone_pattern.format(index) if has_phone else "",
                plan=plan,
                timezone=timezone_name,
                signed_up_at=signed_up_at,
                segment=segment,
                csm_owner=csm,
                now=now,
                actor=None,
            )
            if has_phone:  # owners who gave a phone at signup agreed to SMS there
                tenant.sms_consent_at, tenant.sms_consent_source = signed_up_at, ConsentSource.SIGNUP
                tenant.save(update_fields=["sms_consent_at", "sms_consent_source"])
            owner = User.objects.create(
                username=f"owner-{external_id}", email=tenant.owner_email, first_name=first, last_name=last
            )
            owner.set_unusable_password()
            owner.save(update_fields=["password"])
            membership_create(tenant=tenant, user=owner, role=Membership.Role.OWNER, actor=None, now=signed_up_at)
        created += 1
    stories = {
        t.external_id: story_for(tenant=t, now=now, seed=seed)
        for t in Tenant.objects.filter(external_id__startswith="demo-").order_by("external_id")
    }
    live_at = seed_onboarding(now=now, states={k: v.story.onboarding for k, v in stories.items()}, seed=seed)
    events = seed_usage_history(
        now=now,
        plans={
            k: UsagePlan(archetype=v.story.usage, live_at=live_at.get(k), churn_at=v.churn_at)
            for k, v in stories.items()
        },
        seed=seed,
    )
    # Stripe's story of each tenant, as signed webhooks through the real service.
    stripe_events = seed_subscriptions(
        now=now,
        plans={
            k: BillingPlan(story=v.billing, canceled_at=v.churn_at if v.billing == "canceled" else None)
            for k, v in stories.items()
        },
        seed=seed,
    )
    # The live test call completes from the first call, as the tick would have done it then
    # (before anyone churned: a churned tenant's milestones are no longer tracked).
    seed_onboarding_settle(now=now)
    # The lapsed trial or the cancellation takes effect: the tenant churns on that day, with
    # the reason its CSM would record (a no-op for a tenant billing already marked churned).
    for tenant in Tenant.objects.filter(external_id__in=[k for k, v in stories.items() if v.churn_at]):
        story = stories[tenant.external_id]
        tenant_mark_churned(tenant=tenant, at=story.churn_at, reason=story.churn_reason, actor=None, now=now)
    scores = 0
    if created:
        # Daily score history for the window, then today's scores on the tenants themselves.
        scores = health_backfill_history(now=now, days=days)
        scores += health_recompute_all(now=now).scored
    touchpoints = seed_touchpoint_history(now=now) if created else 0
    # The alert queue as the first tick would leave it, through the real rules.
    alerts = rules_evaluate(now=now).opened if created else 0
    if created:
        seed_qa_reviews(now=now, seed=seed)
        _seed_notes(now=now, rng=random.Random(seed + 16))
        seed_contracts(now=now, seed=seed)
        seed_opportunities(now=now, seed=seed)
        seed_csat_answers(now=now, seed=seed)
        health_models_from_seeds(actor=None, now=now)  # drafts to back-test, as a CS lead would
        seed_advocacy(now=now)
    return SeedResult(
        tenants_created=created,
        tenants_existing=existing,
        events=events,
        scores=scores,
        touchpoints=touchpoints,
        alerts=alerts,
        stripe_events=stripe_events,
    )
