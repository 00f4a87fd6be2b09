from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.models import Invoice, StripeEvent, Subscription
from billing.revenue import recovery_report
from core.roles import StaffRole
from health.models import DailyRollup, HealthScore
from onboarding.models import TenantOnboarding
from playbooks.models import Delivery, Run
from tenants.models import ApiKey, AuditLog, Membership, Tenant
from tenants.services import api_key_hash

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_the_key_alone_on_the_last_line_and_stores_only_a_hash(api, tenant_a):
    out = StringIO()
    call_command("create_api_key", "--name", "ingest for acme", "--scope", "ingest", "--tenant", "acme", stdout=out)

    plaintext = out.getvalue().strip().splitlines()[-1]
    api_key = ApiKey.objects.get()
    assert plaintext.startswith(f"csk_{api_key.prefix}_")
    assert api_key.key_hash == api_key_hash(plaintext) and plaintext not in api_key.key_hash
    assert api_key.tenant == tenant_a and api_key.scope == "ingest"
    assert AuditLog.objects.filter(action="api_key.create").count() == 1


def test_a_created_read_key_authenticates(api, db):
    out = StringIO()
    call_command("create_api_key", "--name", "reporting", "--scope", "read", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert api("get", "/api/v1/tenants/", key=key).status_code == 200
    assert ApiKey.objects.get().last_used_at is not None


def test_create_api_key_for_unknown_tenant_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No tenant with external_id 'nope'"):
        call_command("create_api_key", "--name", "x", "--scope", "read", "--tenant", "nope", stdout=StringIO())
    assert not ApiKey.objects.exists()


def test_seed_demo_builds_a_varied_portfolio_and_is_idempotent():
    """About 20–35 s: it seeds the demo's 150 tenants with 60 days of events, scores and
    touchpoints — twice, to show the second run changes nothing."""
    out = StringIO()
    call_command("seed_demo", "--tenants", "150", "--days", "60", stdout=out)
    call_command("seed_demo", "--tenants", "150", "--days", "60", stdout=out)

    assert "150 tenants created" in out.getvalue() and "150 already there" in out.getvalue()
    tenants = Tenant.objects.all()
    assert tenants.count() == 150
    assert set(tenants.values_list("plan", flat=True)) == set(Tenant.Plan.values)
    assert set(tenants.values_list("lifecycle_stage", flat=True)) == {"onboarding", "adoption", "churned"}
    assert set(tenants.values_list("health_bucket", flat=True)) >= {"healthy", "at_risk", "critical"}
    # 60 days of score history for sparklines, and usage that went through the real ingest.
    assert HealthScore.all_tenants.values("day").distinct().count() >= 60
    assert DailyRollup.all_tenants.values("name").distinct().count() >= 10
    assert tenants.values("timezone").distinct().count() >= 5
    assert tenants.values("segment").distinct().count() >= 5
    assert tenants.filter(csm_owner__groups__name__in=[StaffRole.CSM, StaffRole.CS_LEAD]).count() > 100
    assert Membership.all_tenants.filter(role="owner").count() == 150
    for tenant in tenants:
        tenant.full_clean()  # every generated phone, timezone and id is valid

    # Every onboarding state: done, in progress, stalled; and time to first value.
    onboardings = TenantOnboarding.all_tenants
    assert onboardings.count() == 150
    assert onboardings.filter(completed_at__isnull=False).count() > 30
    assert onboardings.filter(stalled_since__isnull=False).count() > 10
    assert onboardings.filter(completed_at__isnull=True, stalled_since__isnull=True).exists()
    assert onboardings.filter(first_value_at__isnull=False).exists()

    # A month of touchpoints replayed through the real engine: sent, skipped with reasons,
    # scheduled ahead; nothing left mid-send, and nobody was actually emailed.
    deliveries = Delivery.all_tenants
    assert deliveries.filter(status="sent").count() > 100
    assert deliveries.filter(status="skipped", reason__startswith="condition false: usage_level").exists()
    assert deliveries.filter(status="scheduled").exists()
    assert not deliveries.filter(status__in=["sending", "needs_review"]).exists()
    assert not deliveries.filter(reason__startswith="stale: found").exists()  # a tick every day
    assert "touchpoints sent in the replayed month" in out.getvalue()
    assert mail.outbox == []

    # Stripe's side, told as signed webhooks through the real service: every state, retries
    # at several stages, recoveries before and after day 14, and no unmatched leftovers.
    assert "signed Stripe events processed" in out.getvalue()
    subscriptions = Subscription.all_tenants
    assert set(subscriptions.values_list("status", flat=True)) >= {"trialing", "active", "past_due", "canceled"}
    assert subscriptions.filter(tenant=None).count() == 0
    assert subscriptions.exclude(plan="").count() == subscriptions.count()
    assert StripeEvent.objects.exclude(outcome="applied").count() == 0
    attempts = set(Invoice.all_tenants.filter(status="open").values_list("attempt_count", flat=True))
    assert len(attempts) >= 2
    report = recovery_report(now=timezone.now())
    assert report.recovered_after_day_14 >= 1 and report.recovered - report.recovered_after_day_14 >= 1
    assert Run.all_tenants.filter(playbook__slug="dunning").exists()

    # The back-test runs on the demo history and the default model beats a coin toss.
    backtest = StringIO()
    call_command("backtest_health", stdout=backtest)
    auc = float(backtest.getvalue().split("AUC ")[1].split()[0])
    assert auc > 0.7, backtest.getvalue()


@pytest.mark.parametrize("args", [["--tenants", "0"], ["--days", "0"]])
def test_seed_demo_rejects_nonsense(args):
    with pytest.raises(CommandError):
        call_command("seed_demo", *args, stdout=StringIO())


def test_the_demo_gives_its_processes_one_base_url_on_its_port_and_file_outboxes(tmp_path):
    from cs_cockpit.management.commands.demo import demo_environment

    env = demo_environment(port=8123, var_dir=tmp_path / "var", base={"PATH": "/usr/bin", "SITE_URL": "http://x:1"})

    # Every link in a message (and the banner) is this demo's own address, whatever the shell had.
    assert env["SITE_URL"] == "http://127.0.0.1:8123"
    assert env["EMAIL_BACKEND"] == "cs_cockpit.mail.ReadableFileBackend"
    assert env["EMAIL_FILE_PATH"] == str(tmp_path / "var" / "mail")
    assert env["SMS_BACKEND"] == "file" and env["SMS_FILE_PATH"] == str(tmp_path / "var" / "sms.jsonl")
    assert env["PATH"] == "/usr/bin" and env["DEBUG"] == "1"


def test_the_demo_banner_waits_until_the_web_server_answers():
    import http.server
    import socket
    import threading

    from cs_cockpit.management.commands.demo import wait_until_answering

    with socket.socket() as probe:  # a free port, nothing listening on it yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/healthz"
    assert not wait_until_answering(url, timeout=0.5, still_running=lambda: True)
    assert not wait_until_answering(url, timeout=5, still_running=lambda: False)  # the web process died

    class Healthz(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", port), Healthz)
    # The server starts a moment after the wait begins, as runserver does.
    threading.Timer(0.5, server.serve_forever).start()
    try:
        assert wait_until_answering(url, timeout=10, still_running=lambda: True)
    finally:
        server.shutdown()
        server.server_close()


def test_make_demo_port_reaches_the_command():
    import os
    import shutil
    import subprocess
    from pathlib import Path

    if not shutil.which("make"):
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parent.parent
    # Run as a top-level make even when the suite itself runs under `make test`.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"}}
    dry_run = subprocess.run(
        ["make", "-n", "demo", "PORT=8001"], cwd=root, capture_output=True, text=True, timeout=60, check=True, env=env
    )
    assert any(line.endswith("manage.py demo --port 8001") for line in dry_run.stdout.splitlines()), dry_run.stdout
