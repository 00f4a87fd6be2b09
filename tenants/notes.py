"""Writes for CSM notes on a tenant: add, edit (its author only), pin and unpin. Each is one
transaction with an audit row; a new note also goes on the tenant's timeline."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from core.events import AuditAction, TimelineKind

from .models import Tenant, TenantNote
from .services import audit_record, timeline_record

NOTE_MAX = 10_000  # characters: a page of notes, not a document (that is the knowledge base)
TIMELINE_EXCERPT = 160


def _clean_body(body: str) -> str:
    body = body.replace("\r\n", "\n").strip()
    if not body:
        raise ValidationError({"body": ["Write the note: it is empty."]})
    if len(body) > NOTE_MAX:
        raise ValidationError({"body": [f"A note holds at most {NOTE_MAX:,} characters; this one has {len(body):,}."]})
    if "\x00" in body:
        raise ValidationError({"body": ["The note contains a NUL character; remove it and try again."]})
    return body


def _label(actor: AbstractBaseUser) -> str:
    return (actor.get_full_name() or actor.get_username())[:200]


def _unpin_others(*, tenant: Tenant, keep_id: int | None) -> None:
    # The tenant row is the lock two simultaneous pins queue on: the second sees the first's
    # pin and replaces it, instead of both unpinning nothing and one failing the constraint.
    Tenant.objects.select_for_update().filter(id=tenant.id).values_list("id", flat=True).first()
    TenantNote.objects.for_tenant(tenant).filter(pinned=True).exclude(id=keep_id).update(pinned=False)


def note_add(*, tenant: Tenant, actor: AbstractBaseUser, body: str, pinned: bool = False, now: datetime) -> TenantNote:
    body = _clean_body(body)
    with transaction.atomic():
        if pinned:
            _unpin_others(tenant=tenant, keep_id=None)
        note = TenantNote.objects.create(
            tenant=tenant, author=actor, author_label=_label(actor), body=body, pinned=pinned, created_at=now
        )
        excerpt = " ".join(body.split())
        if len(excerpt) > TIMELINE_EXCERPT:
            excerpt = excerpt[: TIMELINE_EXCERPT - 1] + "…"
        timeline_record(
            tenant=tenant,
            at=now,
            kind=TimelineKind.NOTE_ADDED,
            summary=f"{note.author_label}: {excerpt}",
            data={"note": note.id},
        )
        audit_record(
            actor=actor,
            action=AuditAction.NOTE_ADD,
            target=note,
            tenant=tenant,
            at=now,
            after={"body": body, "pinned": pinned},
        )
    return note


def note_edit(*, note: TenantNote, actor: AbstractBaseUser, body: str, now: datetime) -> TenantNote:
    """Only the author rewrites their words; the audit log keeps what it said before."""
    if note.author_id != actor.pk:
        raise PermissionDenied(f"Only {note.author_label} can edit this note.")
    body = _clean_body(body)
    with transaction.atomic():
        locked = TenantNote.all_tenants.select_for_update().get(id=note.id)
        if locked.body == body:
            return locked
        before = {"body": locked.body}
        locked.body, locked.edited_at = body, now
        locked.save(update_fields=["body", "edited_at"])
        audit_record(
            actor=actor,
            action=AuditAction.NOTE_EDIT,
            target=locked,
            tenant=locked.tenant,
            at=now,
            before=before,
            after={"body": body},
        )
    return locked


def note_pin(*, note: TenantNote, actor: AbstractBaseUser, pinned: bool, now: datetime) -> TenantNote:
    """Pin this note (the tenant's pinned note before it is unpinned), or unpin it."""
    with transaction.atomic():
        if pinned:
            _unpin_others(tenant=note.tenant, keep_id=note.id)
        locked = TenantNote.all_tenants.select_for_update().get(id=note.id)
        if locked.pinned == pinned:
            return locked
        locked.pinned = pinned
        locked.save(update_fields=["pinned"])
        audit_record(
            actor=actor,
            action=AuditAction.NOTE_PIN if pinned else AuditAction.NOTE_UNPIN,
            target=locked,
            tenant=locked.tenant,
            at=now,
        )
    return locked
