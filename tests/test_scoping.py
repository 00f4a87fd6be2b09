import pytest

from core.scoping import TenantScopeError
from tenants.models import Membership, TimelineEntry
from tenants.services import timeline_record

from .factories import FIXED_SIGNUP

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    [
        lambda: list(TimelineEntry.objects.all()),
        lambda: TimelineEntry.objects.filter(kind="note").count(),
        lambda: TimelineEntry.objects.get(pk=1),
        lambda: Membership.objects.exists(),
        lambda: TimelineEntry.objects.create(at=FIXED_SIGNUP, kind="note", summary="orphan"),
        lambda: TimelineEntry.objects.for_tenant(None),
    ],
)
def test_a_query_without_a_tenant_fails_closed(query):
    with pytest.raises(TenantScopeError):
        query()


def test_for_tenant_returns_only_that_tenants_rows(tenant_a, tenant_b):
    timeline_record(tenant=tenant_a, at=FIXED_SIGNUP, kind="task.created", summary="A's note")
    timeline_record(tenant=tenant_b, at=FIXED_SIGNUP, kind="task.created", summary="B's note")

    assert [e.summary for e in TimelineEntry.objects.for_tenant(tenant_a)] == ["A's note"]
    # Cross-tenant reads exist, under a name nobody types by accident.
    assert TimelineEntry.all_tenants.count() == 2
    # Reverse relations are bound to their parent row, so they stay scoped.
    assert [e.summary for e in tenant_b.timeline_entries.all()] == ["B's note"]


def test_the_timeline_and_the_audit_log_take_only_the_kinds_and_actions_core_lists(tenant_a):
    """core.events is the list of what the product records: a writer that makes up a kind or
    an action fails at once (in its tests), instead of adding an unnamed row."""
    from core.events import AuditAction, TimelineKind
    from tenants.services import audit_record

    with pytest.raises(ValueError, match="not a valid TimelineKind"):
        timeline_record(tenant=tenant_a, at=FIXED_SIGNUP, kind="tenant.renamed", summary="?")
    with pytest.raises(ValueError, match="not a valid AuditAction"):
        audit_record(actor=None, action="tenant.rename", target=tenant_a, at=FIXED_SIGNUP)
    entry = timeline_record(tenant=tenant_a, at=FIXED_SIGNUP, kind=TimelineKind.TENANT_CREATED, summary="ok")
    assert entry.kind == "tenant.created"
    assert (
        audit_record(actor=None, action=AuditAction.TENANT_VIEW, target=tenant_a, at=FIXED_SIGNUP).action
        == "tenant.view"
    )


def test_no_page_or_api_module_queries_the_database_itself():
    """`all_tenants` is for staff-side selectors and jobs. Owner pages, public pages and the
    API (tenant-bound keys among its callers) read through selectors that name their scope,
    so a view can never forget the tenant: a module that serves requests and reaches for a
    manager (`.objects`, `.all_tenants`) or get_object_or_404 fails here, with its line."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    serving = [
        path
        for pattern in ("*/views.py", "*/public_views.py", "*/api.py", "*/cockpit.py", "cs_cockpit/*.py")
        for path in root.glob(pattern)
        if ".venv" not in path.parts and "bench" not in path.parts and path.name not in {"demo_data.py", "settings.py"}
    ]
    assert len(serving) > 10, serving  # the globs found the modules
    offenders = [
        f"{path.relative_to(root)}:{node.lineno}"
        for path in serving
        for node in ast.walk(ast.parse(path.read_text()))
        if (isinstance(node, ast.Attribute) and node.attr in {"all_tenants", "objects"})
        or (isinstance(node, ast.Name) and node.id == "get_object_or_404")
    ]
    assert offenders == [], offenders
