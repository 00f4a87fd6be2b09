"""Actions in place on the tenant page (issue 15, tenant 360°): give the account to a CSM and
create a task, each audited and on the timeline; bad input is a message that names the
problem and nothing is written; billing ops see the page without the forms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.messages import get_messages

from playbooks.models import Task
from tenants.models import AuditLog, Tenant, TimelineEntry

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def page(tenant: Tenant, suffix: str = "") -> str:
    return f"/admin/customer-success/tenants/{tenant.external_id}/{suffix}"


def said(response) -> list[str]:
    found = [str(m) for m in get_messages(response.wsgi_request)]
    response.client.get(response["Location"])
    return found


def test_a_csm_takes_an_account_and_hands_it_on(client, csm, cs_lead, tenant_a):
    client.force_login(cs_lead)
    html = client.get(page(tenant_a)).content.decode()
    assert 'id="assign-csm"' in html and 'id="new-task"' in html
    response = client.post(page(tenant_a, "csm/"), {"csm": csm.pk})
    assert response["Location"] == page(tenant_a)
    assert said(response) == [f"{tenant_a.name} is now {csm.get_full_name() or csm.username}'s account."]
    tenant_a.refresh_from_db()
    assert tenant_a.csm_owner == csm
    entry = TimelineEntry.objects.for_tenant(tenant_a).get(kind="tenant.csm_assigned")
    assert entry.summary == f"CSM changed from nobody to {csm.get_full_name() or csm.username}"
    audit = AuditLog.objects.get(action="tenant.csm_assign")
    assert (audit.actor, audit.before["csm_owner"], audit.after["csm_owner"]) == (cs_lead, None, csm.pk)
    # The same CSM again writes nothing; unassigning is a change of its own.
    client.post(page(tenant_a, "csm/"), {"csm": csm.pk})
    assert AuditLog.objects.filter(action="tenant.csm_assign").count() == 1
    said(client.post(page(tenant_a, "csm/"), {"csm": ""}))
    tenant_a.refresh_from_db()
    assert tenant_a.csm_owner is None


def test_an_account_goes_only_to_the_cs_team(client, csm, billing_ops, owner_a, tenant_a):
    client.force_login(csm)
    for bad, error in [
        (billing_ops.pk, "Choose an active member of the CS team (CSM, CS lead or admin)."),
        (owner_a.pk, "Choose an active member of the CS team (CSM, CS lead or admin)."),
        ("me", "“me” is not a person."),
    ]:
        assert said(client.post(page(tenant_a, "csm/"), {"csm": bad})) == [error]
    tenant_a.refresh_from_db()
    assert tenant_a.csm_owner is None
    assert not AuditLog.objects.filter(action="tenant.csm_assign").exists()


def test_a_task_made_on_the_page_is_due_at_five_in_the_team_zone(client, csm, tenant_a, settings):
    settings.CS_TEAM_TIMEZONE = "America/New_York"
    client.force_login(csm)
    response = client.post(
        page(tenant_a, "tasks/"), {"title": "  Call the new   office manager ", "due": "2026-11-20", "assignee": csm.pk}
    )
    assert said(response) == ["Task created for Casey Morgan: Call the new office manager."]
    task = Task.objects.for_tenant(tenant_a).get()
    assert (task.title, task.assignee, task.status) == ("Call the new office manager", csm, "open")
    assert task.due_at == datetime(2026, 11, 20, 22, 0, tzinfo=UTC)  # 17:00 EST
    assert TimelineEntry.objects.for_tenant(tenant_a).filter(kind="task.created").count() == 1
    assert AuditLog.objects.filter(action="task.create", tenant=tenant_a).count() == 1
    # It is in the CSM's task list.
    assert "Call the new office manager" in client.get("/admin/customer-success/tasks/").content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"title": "", "due": "2026-11-20"}, "Task not created: Say what is to be done."),
        ({"title": "Call", "due": "tomorrow"}, "Task not created: “tomorrow” is not a date such as 2026-12-01."),
        (
            {"title": "Call", "due": "2026-10-01"},
            "Task not created: The due date is in the past: choose today or later.",
        ),
        (
            {"title": "x" * 301, "due": "2026-11-20"},
            "Task not created: A task title holds at most 300 characters; this one has 301.",
        ),
        (
            {"title": "Call", "due": "2026-11-20", "assignee": "999999"},
            "Task not created: Choose someone on the CS team, or the CSM queue.",
        ),
    ],
)
def test_a_bad_task_is_refused_with_the_reason(client, csm, tenant_a, data, error):
    client.force_login(csm)
    assert said(client.post(page(tenant_a, "tasks/"), data)) == [error]
    assert not Task.objects.for_tenant(tenant_a).exists()


def test_billing_ops_see_the_page_without_the_csm_forms(client, billing_ops, tenant_a):
    client.force_login(billing_ops)
    html = client.get(page(tenant_a)).content.decode()
    assert 'id="assign-csm"' not in html and 'id="new-task"' not in html
    assert client.post(page(tenant_a, "tasks/"), {"title": "x", "due": "2026-11-20"}).status_code == 403
