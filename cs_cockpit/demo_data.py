"""Realistic demo data for `manage.py seed_demo` and `make demo`: tenants of an AI-receptionist
SaaS (the CloudGreet seed) on the three plans of the CS strategy seed, signed up over the
last D days, in many time zones, owned by a small CS team. Deterministic for a given seed.

Usage events come from health.demo (archetypes from champion to churner, through the real
ingest service), then a daily score history. Later parts of the product (subscriptions,
touchpoint runs) add their own demo history here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction

from billing.demo import seed_subscriptions
from health.demo import seed_usage_history
from health.services import health_backfill_history, health_recompute_all
from onboarding.demo import seed_onboarding
from playbooks.alerts import rules_evaluate
from playbooks.demo import seed_touchpoint_history
from tenants.models import Membership, Tenant
from tenants.roles import StaffRole
from tenants.services import membership_create, tenant_create

CSM_TEAM = [
    ("alex.chen", "Alex", "Chen", StaffRole.CS_LEAD),
    ("maria.gomez", "Maria", "Gomez", StaffRole.CSM),
    ("sam.okafor", "Sam", "Okafor", StaffRole.CSM),
    ("priya.nair", "Priya", "Nair", StaffRole.CSM),
    ("jonas.berg", "Jonas", "Berg", StaffRole.CSM),
]
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


def _demo_csms() -> list[AbstractBaseUser]:
    User = get_user_model()
    csms = []
    for username, first, last, role in CSM_TEAM:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@cockpit.example"},
        )
        if created:
            user.set_unusable_password()  # demo colleagues; the demo login is printed by `make demo`
            user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=role))
        csms.append(user)
    return csms


def seed_demo(*, tenants: int, days: int, now: datetime, seed: int = 2026) -> SeedResult:
    rng = random.Random(seed)
    csms = _demo_csms()
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
                tenant.sms_consent_at = signed_up_at
                tenant.save(update_fields=["sms_consent_at"])
            owner = User.objects.create(
                username=f"owner-{external_id}", email=tenant.owner_email, first_name=first, last_name=last
            )
            owner.set_unusable_password()
            owner.save(update_fields=["password"])
            membership_create(tenant=tenant, user=owner, role=Membership.Role.OWNER, actor=None, now=signed_up_at)
        created += 1
    events = seed_usage_history(now=now, seed=seed)
    seed_onboarding(now=now, seed=seed)
    # Stripe's story of each tenant, as signed webhooks through the real service.
    stripe_events = seed_subscriptions(now=now, seed=seed)
    scores = 0
    if events:
        # Daily score history for the window, then today's scores on the tenants themselves.
        scores = health_backfill_history(now=now, days=days)
        scores += health_recompute_all(now=now).scored
    touchpoints = seed_touchpoint_history(now=now) if created else 0
    # The alert queue as the first tick would leave it, through the real rules.
    alerts = rules_evaluate(now=now).opened if created else 0
    return SeedResult(
        tenants_created=created,
        tenants_existing=existing,
        events=events,
        scores=scores,
        touchpoints=touchpoints,
        alerts=alerts,
        stripe_events=stripe_events,
    )
