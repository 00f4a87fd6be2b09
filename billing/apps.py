from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from tenants import api_sections, hooks

        from . import jobs  # noqa: F401  (registers the tick jobs)
        from .selectors import subscription_block, subscription_blocks
        from .trials import trial_notices, trial_start_at_signup

        api_sections.register("subscription", detail=subscription_block, many=subscription_blocks)
        # Signup starts the plan's free trial, in the signup's own transaction.
        hooks.register_signup_hook("billing.trial", trial_start_at_signup)
        hooks.register_owner_notices("billing.trial", trial_notices)
