from django.apps import AppConfig
from django.db.models.signals import post_migrate


def install_builtin_playbooks(sender: AppConfig, **kwargs: object) -> None:
    """After migrate: the built-in library (onboarding-30, dunning, …) exists. Playbooks that
    exist already are left alone — staff may have edited them."""
    from django.utils import timezone

    from .library import library_install_missing

    library_install_missing(now=timezone.now())


class PlaybooksConfig(AppConfig):
    name = "playbooks"
    verbose_name = "Playbooks"

    def ready(self) -> None:
        from alerts.hooks import register_digest_section
        from messaging.outbox import register_outcome_hook, register_send_check
        from tenants import hooks

        from . import jobs  # noqa: F401  (registers the tick jobs)
        from .channels import PURPOSE_PREFIX
        from .outcomes import deliveries_follow_messages, touchpoints_still_due
        from .scheduling import deliveries_follow_timezone
        from .selectors import tasks_due_for_digest

        hooks.register_timezone_hook("playbooks.reschedule", deliveries_follow_timezone)
        register_digest_section("playbooks.tasks", tasks_due_for_digest)
        register_send_check(PURPOSE_PREFIX, touchpoints_still_due)
        register_outcome_hook(PURPOSE_PREFIX, deliveries_follow_messages)

        post_migrate.connect(install_builtin_playbooks, sender=self, dispatch_uid="playbooks.builtin_library")
