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


# Django admin (/admin/) is for the admin role: every permission of these apps.
ADMIN_ROLE_APPS = ("auth", "tenants", "onboarding", "health", "billing", "playbooks")


def admin_role_permissions_sync(**kwargs: object) -> None:
    """Gives the admin group every permission of ADMIN_ROLE_APPS. Idempotent; runs after
    each migrate so permissions of models added later are included."""
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.filter(name=StaffRole.ADMIN).first()
    if group is None:  # before migration 0002 created the groups
        return
    group.permissions.add(*Permission.objects.filter(content_type__app_label__in=ADMIN_ROLE_APPS))
