import pytest

from tenants.models import Membership, TimelineEntry
from tenants.scoping import TenantScopeError
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
    timeline_record(tenant=tenant_a, at=FIXED_SIGNUP, kind="note", summary="A's note")
    timeline_record(tenant=tenant_b, at=FIXED_SIGNUP, kind="note", summary="B's note")

    assert [e.summary for e in TimelineEntry.objects.for_tenant(tenant_a)] == ["A's note"]
    # Cross-tenant reads exist, under a name nobody types by accident.
    assert TimelineEntry.all_tenants.count() == 2
    # Reverse relations are bound to their parent row, so they stay scoped.
    assert [e.summary for e in tenant_b.timeline_entries.all()] == ["B's note"]
