from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from tenants import api_sections

        from .selectors import subscription_block, subscription_blocks

        api_sections.register("subscription", detail=subscription_block, many=subscription_blocks)
