"""Staff roles are Django groups (created by migration 0002). A staff member is a user in at
least one of them, or a superuser. Tenant users (owners, members) are never staff."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models


class StaffRole(models.TextChoices):
    CSM = "csm", "CSM"
    CS_LEAD = "cs_lead", "CS lead"
    BILLING_OPS = "billing_ops", "Billing ops"
    ADMIN = "admin", "Admin"


ALL_STAFF_ROLES: frozenset[str] = frozenset(StaffRole.values)


def staff_roles_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return ALL_STAFF_ROLES
    cached = getattr(user, "_cs_staff_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ALL_STAFF_ROLES).values_list("name", flat=True))
        user._cs_staff_roles = cached  # one query per request, not one per check
    return cached


def has_staff_role(user: AbstractBaseUser | AnonymousUser, roles: frozenset[str] = ALL_STAFF_ROLES) -> bool:
    return bool(staff_roles_of(user) & roles)


# --- the role policy: which roles may do what -----------------------------------------------
# One table for views (staff_required), templates (`may` in the context) and the route matrix
# test. A new ability is a line here and its use; nothing else names role sets.


class Ability(models.TextChoices):
    SEE_COCKPIT = "see_cockpit", "See the cockpit"
    ACT_ON_TENANTS = "act_on_tenants", "Act on a tenant (start a playbook, pause, note, churn)"
    EDIT_PLAYBOOKS = "edit_playbooks", "Edit playbooks"
    EDIT_ALERT_RULES = "edit_alert_rules", "Edit escalation rules"
    EDIT_HEALTH_MODEL = "edit_health_model", "Edit the health model"
    EDIT_MILESTONES = "edit_milestones", "Complete or reopen onboarding milestones"
    EDIT_ONBOARDING_TEMPLATES = "edit_onboarding_templates", "Edit onboarding templates"
    WORK_BILLING_QUEUE = "work_billing_queue", "Work the past-due queue"
    SEE_REVENUE = "see_revenue", "See revenue"
    EDIT_KNOWLEDGE = "edit_knowledge", "Write and edit knowledge articles"


_LEADS = frozenset({StaffRole.CS_LEAD, StaffRole.ADMIN})
_CS_TEAM = frozenset({StaffRole.CSM, StaffRole.CS_LEAD, StaffRole.ADMIN})
_BILLING = frozenset({StaffRole.BILLING_OPS, StaffRole.ADMIN})

POLICY: dict[str, frozenset[str]] = {
    Ability.SEE_COCKPIT: ALL_STAFF_ROLES,
    Ability.ACT_ON_TENANTS: _CS_TEAM,
    Ability.EDIT_PLAYBOOKS: _LEADS,
    Ability.EDIT_ALERT_RULES: _LEADS,
    Ability.EDIT_HEALTH_MODEL: _LEADS,
    Ability.EDIT_MILESTONES: _CS_TEAM,
    Ability.EDIT_ONBOARDING_TEMPLATES: _LEADS,
    Ability.WORK_BILLING_QUEUE: _BILLING,
    Ability.SEE_REVENUE: _BILLING | {StaffRole.CS_LEAD},
    # Seed 000 Day 7: whoever works the account adds the missing offer or objection note.
    Ability.EDIT_KNOWLEDGE: _CS_TEAM,
}


def roles_for(ability: str) -> frozenset[str]:
    return POLICY[ability]


def may(user: AbstractBaseUser | AnonymousUser, ability: str) -> bool:
    return has_staff_role(user, POLICY[ability])


def abilities_of(user: AbstractBaseUser | AnonymousUser) -> dict[str, bool]:
    """Every ability by name, for templates: `{% if may.edit_playbooks %}`."""
    roles = staff_roles_of(user)
    return {str(ability): bool(roles & allowed) for ability, allowed in POLICY.items()}
