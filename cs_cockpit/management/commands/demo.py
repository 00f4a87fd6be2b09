"""`make demo`: migrate, seed, print a staff login, then run web + Celery worker + beat until
Ctrl-C. Everything runs on the embedded defaults (SQLite, filesystem broker, console mail)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from tenants.models import Tenant
from tenants.roles import StaffRole
from tenants.tasks import tick

DEMO_USERNAME = "demo-lead"


class Command(BaseCommand):
    help = "Runs the whole demo: web, Celery worker and beat, on the embedded defaults."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--tenants", type=int, default=150)

    def _staff_login(self) -> tuple[str, str]:
        """A fresh password on every run: nothing to remember, nothing default to guess."""
        User = get_user_model()
        user, _ = User.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"first_name": "Demo", "last_name": "Lead", "is_staff": True}
        )
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.is_staff = True
        user.save()
        user.groups.add(*Group.objects.filter(name__in=[StaffRole.CS_LEAD, StaffRole.ADMIN]))
        return user.get_username(), password

    def handle(self, *args: object, **options: int) -> None:
        started = time.monotonic()
        var_dir = Path(settings.VAR_DIR)
        for folder in ("broker", "broker/processed", "mail"):
            (var_dir / folder).mkdir(parents=True, exist_ok=True)
        call_command("migrate", verbosity=0, interactive=False)
        if Tenant.objects.count() < options["tenants"]:
            call_command("seed_demo", tenants=options["tenants"])
        username, password = self._staff_login()

        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1"), "PYTHONUNBUFFERED": "1"}
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "cs_cockpit"]
        commands = {
            "web": [
                python,
                "manage.py",
                "runserver",
                f"127.0.0.1:{options['port']}",
                "--noreload",
                "--skip-checks",
            ],
            "worker": [*celery, "worker", "--loglevel", "WARNING", "--concurrency", "2", "-Q", "default"],
            "beat": [
                *celery,
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(var_dir / "celerybeat-schedule"),
            ],
        }
        processes = {name: subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR) for name, cmd in commands.items()}
        # Beat's first tick comes a minute after it starts; queue one now so /readyz turns
        # green as soon as the worker is up. A duplicate tick is harmless by construction.
        tick.delay()

        url = f"http://127.0.0.1:{options['port']}/admin/customer-success/"
        self.stdout.write(self.style.SUCCESS(f"\nCS Cockpit demo ready in {time.monotonic() - started:.1f} s"))
        self.stdout.write(f"  staff login: {username} / {password}")
        self.stdout.write(f"  cockpit:     {url}")
        self.stdout.write(f"  API docs:    http://127.0.0.1:{options['port']}/api/docs/")
        self.stdout.write(
            f"  readiness:   http://127.0.0.1:{options['port']}/readyz  (at {timezone.now():%H:%M:%S} UTC)"
        )
        self.stdout.write("Press Ctrl-C to stop web, worker and beat.\n")
        self.stdout.flush()

        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}; stopping the demo.")
                        stopping = True
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            deadline = time.monotonic() + 10
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
            self.stdout.write("Demo stopped.")
