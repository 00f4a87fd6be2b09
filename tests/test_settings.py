"""Settings behave as an operator expects: production refuses an unsafe SECRET_KEY and passes
Django's deployment checks. Each case runs manage.py in a fresh process with a clean env."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "cockpit.example.com",
    "SITE_URL": "https://cockpit.example.com",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "smtp.example.com",
}


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean_env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "cs_cockpit.settings",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean_env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("secret", [None, "", "django-insecure-cs-cockpit-development-key-do-not-use-in-production"])
def test_production_start_refuses_a_missing_or_default_secret_key(secret):
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    if secret is not None:
        env["SECRET_KEY"] = secret

    web = python("import cs_cockpit.wsgi", **env)
    assert web.returncode != 0
    assert "Refusing to start the web application: SECRET_KEY is missing or is the development default" in web.stderr
    tick = manage("tick", **env)
    assert tick.returncode != 0 and "Refusing to start the tick" in tick.stderr
    worker = python("from celery.signals import worker_init; import cs_cockpit; worker_init.send(sender=None)", **env)
    assert worker.returncode != 0 and "Refusing to start the Celery worker" in worker.stderr
    # Commands that serve nothing still run, so a fresh checkout can migrate and check.
    assert manage("makemigrations", "--check", "--dry-run", **env).returncode == 0


def test_production_starts_with_a_real_secret_key():
    assert python("import cs_cockpit.wsgi", **PRODUCTION).returncode == 0


def test_development_runs_without_a_secret_key():
    assert manage("check", DEBUG="1").returncode == 0


def test_check_deploy_is_clean_in_a_production_like_environment():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_bad_boolean_is_named():
    result = manage("check", DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr
