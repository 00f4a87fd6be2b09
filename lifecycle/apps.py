from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    verbose_name = "Lifecycle: renewals"

    def ready(self) -> None:
        from . import jobs  # noqa: F401  (registers the tick's jobs)
