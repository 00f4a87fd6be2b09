from pathlib import Path

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def admin_role_apps() -> list[str]:
    """Django admin (/admin/) is for the admin role: every permission of auth and of the
    project's own apps — those whose code lives in the project directory (not a library's),
    so an app added to the settings is covered without a second list to keep in step."""
    from django.conf import settings

    root = Path(settings.BASE_DIR).resolve()
    own = [
        config.label
        for config in apps.get_app_configs()
        if root in Path(config.path).resolve().parents and ".venv" not in Path(config.path).parts
    ]
    return ["auth", *own]


def admin_role_permissions_sync(**kwargs: object) -> None:
    """Gives the admin group every permission of admin_role_apps(). Idempotent; runs after
    each migrate so permissions of models added later are included."""
    from django.contrib.auth.models import Group, Permission

    from core.roles import StaffRole

    group = Group.objects.filter(name=StaffRole.ADMIN).first()
    if group is None:  # before migration 0002 created the groups
        return
    group.permissions.add(*Permission.objects.filter(content_type__app_label__in=admin_role_apps()))


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        # Registers this app's periodic jobs with the tick registry.
        from . import jobs  # noqa: F401

        # Permissions are created in post_migrate, so the admin role is given them there too
        # (a data migration would run before they exist).
        post_migrate.connect(admin_role_permissions_sync, dispatch_uid="tenants.admin_role_permissions")
