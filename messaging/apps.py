from typing import Any

from django.apps import AppConfig


def _tracking_event(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """django-anymail's tracking signal: a thin receiver, the suppression is a service."""
    from django.utils import timezone

    from .suppressions import suppression_from_tracking

    suppression_from_tracking(event=event, esp_name=esp_name, now=timezone.now())


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from anymail.signals import tracking

        from . import jobs  # noqa: F401  (registers the tick job)

        tracking.connect(_tracking_event, dispatch_uid="messaging.suppressions")
