"""The Celery app. Beat only says "tick" once a minute; the tick's jobs are idempotent rows
claimed with SKIP LOCKED, so a second beat or a redelivered message is harmless."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_cockpit.settings")

app = Celery("cs_cockpit", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="default",
    timezone="UTC",
    beat_schedule={
        "tick-every-minute": {"task": "tenants.tasks.tick", "schedule": 60.0, "options": {"expires": 55}},
    },
)
app.autodiscover_tasks()
