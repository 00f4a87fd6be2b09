from celery import shared_task
from django.utils import timezone

from core import ticks


@shared_task(acks_late=True, name="tenants.tasks.tick")
def tick() -> list[str]:
    """Beat's only periodic task. Safe to run twice: every job is idempotent."""
    return [f"{r.name}: {r.summary}" for r in ticks.run_tick(now=timezone.now())]
