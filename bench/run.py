"""`make bench`: speed as ratios against a baseline measured in the same run.

The baseline is /healthz (the request/response cycle with no database work); each other line
is the median time of an operation and its ratio to that baseline, so figures compare across
machines and runs. Uses DATABASE_URL when set, else a throwaway SQLite file in var/.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_cockpit.settings")
bench_db = ROOT / "var" / "bench.sqlite3"
if "DATABASE_URL" not in os.environ:
    bench_db.parent.mkdir(exist_ok=True)
    bench_db.unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{bench_db}"
os.environ["ALLOWED_HOSTS"] = "testserver"

import django  # noqa: E402

django.setup()

from common import summary  # noqa: E402  (bench/ is on sys.path: the script's own folder)
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from core.roles import StaffRole  # noqa: E402
from core.ticks import run_tick  # noqa: E402
from cs_cockpit.demo_data import seed_demo  # noqa: E402
from tenants.models import ApiKey, Tenant  # noqa: E402
from tenants.services import api_key_create, staff_user_create  # noqa: E402

REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))


def median_ms(operation: Callable[[], object], repeat: int = REPEAT) -> float:
    operation()  # warm up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        operation()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    call_command("migrate", verbosity=0)
    now = timezone.now()
    if not Tenant.objects.filter(external_id__startswith="demo-").exists():
        seed_demo(tenants=int(os.environ.get("BENCH_TENANTS", "150")), days=60, now=now)
    key = api_key_create(name="bench", scope=ApiKey.Scope.READ, tenant=None, actor=None, now=now).plaintext
    staff = staff_user_create(
        username=f"bench-{time.time_ns()}",
        email="b@example.com",
        password="x" * 20,
        roles=[StaffRole.CSM],
        actor=None,
        now=now,
    )
    api, browser = Client(headers={"Authorization": f"Bearer {key}"}), Client()
    browser.force_login(staff)
    tenant_id = Tenant.objects.order_by("external_id").first().external_id

    def ok(client: Client, url: str) -> Callable[[], None]:
        def get() -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return get

    baseline = median_ms(ok(api, "/healthz"))
    cases = {
        "api tenant list (50)": ok(api, "/api/v1/tenants/"),
        "api tenant detail": ok(api, f"/api/v1/tenants/{tenant_id}/"),
        "api tenant timeline": ok(api, f"/api/v1/tenants/{tenant_id}/timeline/"),
        "cockpit tenant list (25)": ok(browser, "/admin/customer-success/tenants/"),
        "cockpit tenant search": ok(browser, "/admin/customer-success/tenants/?q=dental&sort=-signed_up_at"),
        "tick (idle)": lambda: run_tick(now=now),
    }
    vendor = django.db.connection.vendor
    print(f"bench: {Tenant.objects.count()} tenants, {REPEAT} runs each, median; database {vendor}")
    print(f"{'baseline /healthz':32s} {baseline:8.2f} ms   1.0x")
    figures = {}
    for name, operation in cases.items():
        ms = median_ms(operation)
        print(f"{name:32s} {ms:8.2f} ms {ms / baseline:6.1f}x")
        figures[name] = f"{ms:.2f} ms ({ms / baseline:.1f}x)"
    summary(
        "pages",
        figures=figures,
        baseline=f"/healthz {baseline:.2f} ms",
        target="every page and API call within 50x /healthz, the idle tick included",
    )


if __name__ == "__main__":
    main()
