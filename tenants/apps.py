from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        # Registers this app's periodic jobs with the tick registry.
        from . import jobs  # noqa: F401
