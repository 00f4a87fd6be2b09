"""`make demo`: migrate, seed, then run web + Celery worker + beat until Ctrl-C, and print the
staff logins once the web server answers. Everything runs on the embedded defaults (SQLite,
filesystem broker); messages go to files under var/ (mail/ and sms.jsonl) and each one is a
line in the log, and every link in them starts with SITE_URL — this demo's own address."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from cs_cockpit.demo_data import DEMO_BILLING_LOGIN, DEMO_LOGIN, demo_staff_create
from tenants.models import Tenant
from tenants.tasks import tick

WEB_START_TIMEOUT_SECONDS = 90


def demo_environment(*, port: int, var_dir: Path, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of the demo's web, worker and beat: one base URL for every link (the
    port it serves on), email and SMS written to files under var/ instead of sent."""
    return {
        **base,
        "DEBUG": base.get("DEBUG", "1"),
        "PYTHONUNBUFFERED": "1",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "EMAIL_BACKEND": "cs_cockpit.mail.ReadableFileBackend",
        "EMAIL_FILE_PATH": str(var_dir / "mail"),
        "SMS_BACKEND": "file",
        "SMS_FILE_PATH": str(var_dir / "sms.jsonl"),
    }


def wait_until_answering(url: str, *, timeout: float, still_running: Callable[[], bool]) -> bool:
    """True once `url` answers 200; False if `still_running()` turns false or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and still_running():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass  # not listening yet (or still importing): ask again
        time.sleep(0.25)
    return False


class Command(BaseCommand):
    help = "Runs the whole demo: web, Celery worker and beat, on the embedded defaults."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--tenants", type=int, default=150)

    def _staff_logins(self) -> list[tuple[str, str]]:
        """Fresh passwords on every run for the printed logins: nothing to remember, nothing
        default to guess. The seed made the people (the lead owns tenants, alerts and tasks)."""
        demo_staff_create()
        logins = []
        for username in (DEMO_LOGIN, DEMO_BILLING_LOGIN):
            user = get_user_model().objects.get(username=username)
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.save(update_fields=["password"])
            logins.append((username, password))
        return logins

    def handle(self, *args: object, **options: int) -> None:
        started = time.monotonic()
        var_dir = Path(settings.VAR_DIR)
        for folder in ("broker", "broker/processed", "mail"):
            (var_dir / folder).mkdir(parents=True, exist_ok=True)
        port = options["port"]
        env = demo_environment(port=port, var_dir=var_dir, base=os.environ)
        site = env["SITE_URL"]
        call_command("migrate", verbosity=0, interactive=False)
        if Tenant.objects.count() < options["tenants"]:
            # The seed writes links too (alert emails queued for the first tick): the same base.
            with override_settings(SITE_URL=site):
                call_command("seed_demo", tenants=options["tenants"])
        (lead, lead_password), (billing, billing_password) = self._staff_logins()
        lead_id = get_user_model().objects.get(username=lead).pk
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "cs_cockpit"]
        commands = {
            "web": [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            # INFO: each email and SMS sent is one line ("email to …: subject").
            "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2", "-Q", "default"],
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

        # The banner only once the web server answers: a URL printed earlier is a dead link.
        if not wait_until_answering(
            f"http://127.0.0.1:{port}/healthz",
            timeout=WEB_START_TIMEOUT_SECONDS,
            still_running=lambda: processes["web"].poll() is None,
        ):
            self.stderr.write(f"The web server did not answer on port {port}; stopping the demo.")
            for process in processes.values():
                process.terminate()
            for process in processes.values():
                process.wait(timeout=10)
            raise SystemExit(1)

        mine = f"{site}{reverse('cockpit:tenant-list')}?csm={lead_id}"
        self.stdout.write(
            self.style.SUCCESS(f"\nCS Cockpit demo ready in {time.monotonic() - started:.1f} s at {site}")
        )
        self.stdout.write(f"  CS lead + CSM: {lead} / {lead_password}")
        self.stdout.write(f"                 home          {site}{reverse('cockpit:overview')}?scope=mine")
        self.stdout.write(f"                 their tenants {mine}")
        self.stdout.write(f"                 their alerts  {site}{reverse('cockpit:alerts')}?assignee=me")
        self.stdout.write(f"                 their tasks   {site}{reverse('cockpit:tasks')}")
        self.stdout.write(f"  billing ops:   {billing} / {billing_password}")
        self.stdout.write(f"                 past due      {site}{reverse('billing-ops:queue')}")
        self.stdout.write(f"  log in:        {site}{reverse('login')}")
        self.stdout.write(f"  API docs:      {site}{reverse('api-docs')}")
        self.stdout.write(f"  messages:      {env['EMAIL_FILE_PATH']}/ (email), {env['SMS_FILE_PATH']} (SMS)")
        self.stdout.write(f"  readiness:     {site}/readyz  (at {timezone.now():%H:%M:%S} UTC)")
        self.stdout.write(f"  status:        {site}{reverse('cockpit:status')}")
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
