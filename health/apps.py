from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health"

    def ready(self) -> None:
        from tenants import api_sections

        from . import jobs  # noqa: F401  (registers the tick job)
        from .selectors import health_block, health_blocks

        api_sections.register("health", detail=health_block, many=health_blocks)
