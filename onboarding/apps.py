from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = "Onboarding"

    def ready(self) -> None:
        from tenants import api_sections

        from . import jobs  # noqa: F401  (registers the tick jobs)
        from .selectors import onboarding_block, onboarding_blocks

        api_sections.register("onboarding", detail=onboarding_block, many=onboarding_blocks)
