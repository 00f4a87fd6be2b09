from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health"

    def ready(self) -> None:
        from tenants import api_sections

        from . import jobs  # noqa: F401  (registers the tick job)
        from .selectors import health_block

        api_sections.register("health", health_block)
