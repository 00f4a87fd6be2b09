"""Personas and service gates shared by every test.

Personas: owner A, member A, owner B, each staff role (csm, cs_lead, billing_ops, admin) and
anonymous. Tests marked `postgres` or `redis` skip without DATABASE_URL / REDIS_URL, except
when CS_REQUIRE_SERVICES=1 (CI), where a skip is a failure; `browser` tests likewise need
Debian's Chromium.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from core.roles import StaffRole
from onboarding.services import onboarding_start
from tenants.models import ApiKey, Membership, Tenant
from tenants.services import api_key_create

from .factories import MembershipFactory, TenantFactory, UserFactory

REQUIRE_SERVICES = os.environ.get("CS_REQUIRE_SERVICES") == "1"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API + live_server


def _missing_service(item: pytest.Item) -> str | None:
    if item.get_closest_marker("postgres") and not settings.IS_POSTGRES:
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if item.get_closest_marker("redis") and not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL=redis://..."
    if item.get_closest_marker("browser") and not CHROMIUM:
        return "needs Chromium: apt-get install chromium"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    missing = _missing_service(item)
    if missing and REQUIRE_SERVICES:
        pytest.fail(f"CS_REQUIRE_SERVICES=1 but this test {missing}", pytrace=False)
    if missing:
        pytest.skip(missing)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if REQUIRE_SERVICES and skipped:
        terminalreporter.write_line(f"CS_REQUIRE_SERVICES=1: {len(skipped)} test(s) skipped", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # With CS_REQUIRE_SERVICES=1 a skip anywhere (even pytest.skip inside a test) fails the run.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if REQUIRE_SERVICES and reporter and reporter.stats.get("skipped") and exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def reference_data(request: pytest.FixtureRequest) -> None:
    """Rows that data migrations create (staff-role groups, the default health model).
    Transactional tests flush the database after each test, so put them back first; the
    migration functions themselves do it, idempotently."""
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")) and "transactional_db" not in request.fixturenames:
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    from tenants.apps import admin_role_permissions_sync

    import_module("tenants.migrations.0002_staff_role_groups").create_groups(apps, None)
    import_module("health.migrations.0002_default_health_model").create_default_model(apps, None)
    import_module("onboarding.migrations.0002_seed_templates").create(apps, None)
    import_module("knowledge.migrations.0002_starting_articles").create(apps, None)
    from playbooks.library import library_install_missing

    library_install_missing(now=timezone.now())
    from alerts.services import rules_sync

    rules_sync(now=timezone.now())  # what playbooks migration 0004 seeded: the rules' rows
    admin_role_permissions_sync()


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Every test starts with nothing cached (the home's trend is kept per book and day). On
    Redis, only this worker's keys go: clear() would flush the database the other pytest-xdist
    worker is using at the same moment."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        cache.clear()
        return
    client = cache._cache.get_client(write=True)
    prefix = cache.key_prefix
    for key in client.scan_iter(match=f"{prefix}:*" if prefix else "*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def empty_sms_outbox() -> None:
    """Like Django's mail.outbox: every test starts with no SMS sent (locmem backend)."""
    from messaging import sms

    sms.outbox.clear()


# --- personas ---------------------------------------------------------------------------------


@pytest.fixture
def tenant_a(db) -> Tenant:
    tenant = TenantFactory(external_id="acme", name="Acme Plumbing", plan=Tenant.Plan.PROFESSIONAL)
    onboarding_start(tenant=tenant)  # the generic SaaS template
    return tenant


@pytest.fixture
def tenant_b(db) -> Tenant:
    tenant = TenantFactory(
        external_id="globex", name="Globex Dental", plan=Tenant.Plan.STARTER, segment="Dental clinics"
    )
    onboarding_start(tenant=tenant)  # the voice-receptionist template
    return tenant


def tenant_user(tenant: Tenant, username: str, role: str):
    return MembershipFactory(tenant=tenant, user=UserFactory(username=username), role=role).user


@pytest.fixture
def owner_a(tenant_a):
    return tenant_user(tenant_a, "owner-a", Membership.Role.OWNER)


@pytest.fixture
def member_a(tenant_a):
    return tenant_user(tenant_a, "member-a", Membership.Role.MEMBER)


@pytest.fixture
def owner_b(tenant_b):
    return tenant_user(tenant_b, "owner-b", Membership.Role.OWNER)


@pytest.fixture
def csm(db):
    return UserFactory(username="csm", first_name="Casey", last_name="Morgan", roles=[StaffRole.CSM])


@pytest.fixture
def cs_lead(db):
    return UserFactory(username="cs-lead", roles=[StaffRole.CS_LEAD])


@pytest.fixture
def billing_ops(db):
    return UserFactory(username="billing-ops", roles=[StaffRole.BILLING_OPS])


@pytest.fixture
def admin_staff(db):
    return UserFactory(username="admin-staff", is_staff=True, roles=[StaffRole.ADMIN])


@dataclass
class Personas:
    """Every persona, by name, for tests that walk all of them (the route matrix)."""

    users: dict[str, object]

    def client_for(self, name: str) -> Client:
        client = Client()
        user = self.users[name]
        if user is not None:
            client.force_login(user)
        return client


PERSONA_NAMES = ["anonymous", "owner_a", "member_a", "owner_b", "csm", "cs_lead", "billing_ops", "admin"]
STAFF_PERSONAS = ["csm", "cs_lead", "billing_ops", "admin"]


@pytest.fixture
def personas(owner_a, member_a, owner_b, csm, cs_lead, billing_ops, admin_staff) -> Personas:
    return Personas(
        users={
            "anonymous": None,
            "owner_a": owner_a,
            "member_a": member_a,
            "owner_b": owner_b,
            "csm": csm,
            "cs_lead": cs_lead,
            "billing_ops": billing_ops,
            "admin": admin_staff,
        }
    )


# --- API keys ---------------------------------------------------------------------------------


@pytest.fixture
def make_key(db) -> Callable[..., str]:
    def make(scope: str, tenant: Tenant | None = None, name: str = "test key") -> str:
        return api_key_create(name=name, scope=scope, tenant=tenant, actor=None, now=timezone.now()).plaintext

    return make


@pytest.fixture
def api(client) -> Callable[..., object]:
    """api("get", url, key=..., json=...) -> response."""

    def call(method: str, url: str, *, key: str | None = None, json: object = None, **extra: object):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        kwargs: dict = {"headers": headers, **extra}
        if json is not None:
            kwargs.update(data=json, content_type="application/json")
        return getattr(client, method)(url, **kwargs)

    return call


@pytest.fixture
def admin_key(make_key) -> str:
    return make_key(ApiKey.Scope.ADMIN, name="admin key")


@pytest.fixture
def read_key(make_key) -> str:
    return make_key(ApiKey.Scope.READ, name="read key")


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def alert_playbooks_off(db) -> None:
    """For tests about one playbook's own schedule (onboarding-30): the escalation rules are
    switched off, so the playbooks they start (white-glove setup at 72 h, at-risk recovery)
    stay out of its sends and counts. The rules' own tests cover what they start."""
    from alerts.models import AlertRule

    AlertRule.objects.update(enabled=False)


def _transactional(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", [])
    wants = bool(marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")))
    return wants or "transactional_db" in fixtures or "live_server" in fixtures


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pytest-django runs every database test that rolls back before the ones that flush the
    database (transactional, live_server). pytest can undo that order when it groups tests by a
    session-scoped parameter — a test whose fixture is named `page`, like Playwright's, gets the
    [chromium] parameter and moves among the browser tests — and then it meets an empty
    database (no staff roles, no health model). Fail the collection loudly instead."""
    seen_transactional = None
    for item in items:
        if _transactional(item):
            seen_transactional = seen_transactional or item
        elif item.get_closest_marker("django_db") and seen_transactional is not None:
            raise pytest.UsageError(
                f"{item.nodeid} rolls back but runs after {seen_transactional.nodeid}, which empties the database: "
                "is one of its fixtures named like a Playwright fixture (page, browser, context)?"
            )
