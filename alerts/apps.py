from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Escalations"

    def ready(self) -> None:
        from messaging.outbox import register_send_check

        from . import jobs  # noqa: F401  (registers the tick jobs)
        from .notify import alert_messages_still_news

        register_send_check("alert.", alert_messages_still_news)
