"""CSM notes on a tenant (issue 15, tenant 360°): written in Markdown and shown sanitised,
one pinned note first, on the timeline and in the audit log; only the author edits; another
tenant's note is a 404; an empty or oversized note is refused with the text kept."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from core.events import AuditAction
from tenants.models import AuditLog, TenantNote, TimelineEntry

pytestmark = pytest.mark.django_db


def _page(external_id: str, suffix: str = "") -> str:
    return f"/admin/customer-success/tenants/{external_id}/{suffix}"


def add(client, tenant, body: str, *, pinned: bool = False, next_url: str = ""):
    data = {"body": body}
    if pinned:
        data["pinned"] = "on"
    if next_url:
        data["next"] = next_url
    return client.post(_page(tenant.external_id, "notes/add/"), data)


def test_a_note_is_rendered_as_markdown_with_scripts_and_handlers_removed(client, csm, tenant_a):
    client.force_login(csm)
    body = (
        "**Champion** leaves in March\n\n- ask for intro\n\n"
        "<script>alert(1)</script><img src=x onerror=alert(2)> [x](javascript:alert(3))"
    )
    response = add(client, tenant_a, body, next_url=_page(tenant_a.external_id) + "#notes")
    assert response.status_code == 302
    assert response["Location"] == _page(tenant_a.external_id) + "#notes"
    html = client.get(_page(tenant_a.external_id)).content.decode()
    notes = html[html.index('id="notes"') : html.index('id="onboarding"')]
    assert "<strong>Champion</strong> leaves in March" in notes
    assert "<li>ask for intro</li>" in notes
    assert "<script>" not in notes and "onerror" not in notes and "javascript:" not in notes
    assert "All 1 note →" in notes


def test_a_note_is_on_the_timeline_and_in_the_audit_log(client, csm, tenant_a):
    client.force_login(csm)
    add(client, tenant_a, "Asked about the " + "very " * 60 + "long integration")
    note = TenantNote.objects.for_tenant(tenant_a).get()
    entry = TimelineEntry.objects.for_tenant(tenant_a).get(kind="tenant.note_added")
    assert entry.summary.startswith(f"{note.author_label}: Asked about the very")
    assert entry.summary.endswith("…") and len(entry.summary) < 200
    audit = AuditLog.objects.get(action=AuditAction.NOTE_ADD)
    assert (audit.actor, audit.tenant, audit.after["body"]) == (csm, tenant_a, note.body)


def test_pinning_a_note_replaces_the_pinned_one_and_it_shows_first(client, csm, tenant_a):
    client.force_login(csm)
    add(client, tenant_a, "first, pinned", pinned=True)
    add(client, tenant_a, "second")
    add(client, tenant_a, "third")
    second = TenantNote.objects.for_tenant(tenant_a).get(body="second")
    response = client.post(_page(tenant_a.external_id, f"notes/{second.id}/pin/"), {"pinned": "1"})
    assert response.status_code == 302
    pinned = list(TenantNote.objects.for_tenant(tenant_a).filter(pinned=True).values_list("body", flat=True))
    assert pinned == ["second"]
    html = client.get(_page(tenant_a.external_id, "notes/")).content.decode()
    assert html.index("second") < html.index("third") < html.index("first, pinned")
    assert AuditLog.objects.filter(action=AuditAction.NOTE_PIN).count() == 1
    # The database refuses two pinned notes even if a writer skipped the service.
    with pytest.raises(IntegrityError), transaction.atomic():
        TenantNote.objects.for_tenant(tenant_a).filter(body="third").update(pinned=True)


def test_bad_notes_are_refused_with_the_text_kept(client, csm, tenant_a):
    client.force_login(csm)
    response = add(client, tenant_a, "   ")
    assert response.status_code == 422
    assert "Write the note: it is empty." in response.content.decode()
    long_text = "x" * 10_001
    response = add(client, tenant_a, long_text)
    assert response.status_code == 422
    assert "at most 10000 characters; this one has 10001" in response.content.decode()
    assert long_text in response.content.decode()
    response = add(client, tenant_a, "null \x00 byte")
    assert response.status_code == 422
    assert "Null characters are not allowed." in response.content.decode()
    response = client.post(
        _page(tenant_a.external_id, "notes/add/"), {"body": "ok"} | {"next": "https://evil.example/"}
    )
    assert response["Location"] == _page(tenant_a.external_id)
    pin = client.post(_page(tenant_a.external_id, "notes/1/pin/"), {"pinned": "maybe"})
    assert pin.status_code in (302, 404)
    assert TenantNote.objects.for_tenant(tenant_a).count() == 1


def test_only_the_author_edits_and_the_audit_keeps_the_old_words(client, csm, cs_lead, tenant_a):
    client.force_login(csm)
    add(client, tenant_a, "Renewal is in May")
    note = TenantNote.objects.for_tenant(tenant_a).get()
    edit = _page(tenant_a.external_id, f"notes/{note.id}/edit/")
    assert client.post(edit, {"body": "Renewal is in June"}).status_code == 302
    note.refresh_from_db()
    assert note.body == "Renewal is in June" and note.edited_at is not None
    audit = AuditLog.objects.get(action=AuditAction.NOTE_EDIT)
    assert (audit.before, audit.after) == ({"body": "Renewal is in May"}, {"body": "Renewal is in June"})

    client.force_login(cs_lead)
    assert "Only " in client.get(edit).content.decode()
    assert client.post(edit, {"body": "Renewal cancelled"}).status_code == 403
    note.refresh_from_db()
    assert note.body == "Renewal is in June"


def test_another_tenants_note_is_a_404_and_billing_ops_cannot_write(client, csm, billing_ops, tenant_a, tenant_b):
    client.force_login(csm)
    add(client, tenant_b, "B's note")
    note_b = TenantNote.objects.for_tenant(tenant_b).get()
    assert client.post(_page(tenant_a.external_id, f"notes/{note_b.id}/pin/"), {"pinned": "1"}).status_code == 404
    assert client.get(_page(tenant_a.external_id, f"notes/{note_b.id}/edit/")).status_code == 404
    client.force_login(billing_ops)
    assert client.get(_page(tenant_b.external_id, "notes/")).status_code == 200
    assert add(client, tenant_b, "from billing").status_code == 403
    assert TenantNote.objects.for_tenant(tenant_b).count() == 1
    assert "Add a note" not in client.get(_page(tenant_b.external_id, "notes/")).content.decode()


def test_the_notes_page_pages(client, csm, tenant_a):
    client.force_login(csm)
    for i in range(23):
        add(client, tenant_a, f"note number {i}")
    html = client.get(_page(tenant_a.external_id, "notes/")).content.decode()
    assert "1–20 of 23" in html and "note number 22" in html and "note number 2<" not in html
    html = client.get(_page(tenant_a.external_id, "notes/") + "?page=2").content.decode()
    assert "21–23 of 23" in html and "note number 0" in html


def test_the_notes_page_runs_the_same_queries_for_two_notes_or_twenty(client, csm, tenant_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(csm)
    counts = []
    for n in (2, 18):
        for i in range(n):
            add(client, tenant_a, f"note {n}-{i}")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(_page(tenant_a.external_id, "notes/")).status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]
