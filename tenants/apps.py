from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        # Registers this app's periodic jobs with the tick registry.
        from . import jobs  # noqa: F401
        from .roles import admin_role_permissions_sync

        # Permissions are created in post_migrate, so the admin role is given them there too
        # (a data migration would run before they exist).
        post_migrate.connect(admin_role_permissions_sync, dispatch_uid="tenants.admin_role_permissions")
