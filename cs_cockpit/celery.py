"""The Celery app. Beat only says "tick" once a minute; the tick's jobs are idempotent rows
claimed with SKIP LOCKED, so a second beat or a redelivered message is harmless."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

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


def _refuse_unsafe(process: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from core.startup import refuse_unsafe_start

    try:
        refuse_unsafe_start(process)
    except ImproperlyConfigured as exc:
        # Celery logs and swallows exceptions from signal receivers; SystemExit stops it.
        raise SystemExit(str(exc)) from None


@worker_init.connect
def _refuse_unsafe_worker(**kwargs: object) -> None:
    _refuse_unsafe("the Celery worker")


@beat_init.connect
def _refuse_unsafe_beat(**kwargs: object) -> None:
    _refuse_unsafe("Celery beat")
