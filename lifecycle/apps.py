from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    verbose_name = "Lifecycle: renewals, expansion, surveys"

    def ready(self) -> None:
        from . import jobs  # noqa: F401  (registers the tick's jobs)
        from .health_facts import register

        register()
