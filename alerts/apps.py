from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Escalations"

    def ready(self) -> None:
        from . import jobs  # noqa: F401  (registers the tick jobs)
