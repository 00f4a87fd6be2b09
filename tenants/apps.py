from django.apps import AppConfig
from django.db.models.signals import post_migrate

# Django admin (/admin/) is for the admin role: every permission of these apps.
ADMIN_ROLE_APPS = (
    "auth",
    "core",
    "tenants",
    "messaging",
    "onboarding",
    "health",
    "billing",
    "knowledge",
    "alerts",
    "playbooks",
    "qa",
)


def admin_role_permissions_sync(**kwargs: object) -> None:
    """Gives the admin group every permission of ADMIN_ROLE_APPS. Idempotent; runs after
    each migrate so permissions of models added later are included."""
    from django.contrib.auth.models import Group, Permission

    from core.roles import StaffRole

    group = Group.objects.filter(name=StaffRole.ADMIN).first()
    if group is None:  # before migration 0002 created the groups
        return
    group.permissions.add(*Permission.objects.filter(content_type__app_label__in=ADMIN_ROLE_APPS))


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        # Registers this app's periodic jobs with the tick registry.
        from . import jobs  # noqa: F401

        # Permissions are created in post_migrate, so the admin role is given them there too
        # (a data migration would run before they exist).
        post_migrate.connect(admin_role_permissions_sync, dispatch_uid="tenants.admin_role_permissions")
