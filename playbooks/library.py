"""Playbook versions: loading files (idempotent: an unchanged definition is a no-op, a
changed one the next version), saving a staff edit, and the built-in library."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from core.events import AuditAction
from tenants.services import audit_record

from .definitions import DefinitionError, content_hash, parse
from .models import Playbook, PlaybookVersion, Step

LIBRARY_DIR = Path(__file__).resolve().parent / "library"
PLAYBOOK_SUFFIXES = (".yaml", ".yml", ".md", ".markdown")


@dataclass(frozen=True)
class LoadResult:
    playbook: Playbook
    version: PlaybookVersion
    created: bool  # False: the definition was already the current version


def _steps_for(version: PlaybookVersion, definition: dict[str, Any]) -> list[Step]:
    return [
        Step(
            version=version,
            position=position,
            key=step["key"],
            section=step["section"],
            day=step["day"],
            hours=step["hours"],
            channel=step["channel"],
            subject=step["subject"],
            body=step["body"],
            conditions=step["conditions"],
            owner_role=step["owner_role"],
            owner_name=step["owner_name"],
            due_in_hours=step["due_in_hours"],
            transactional=step["transactional"],
            webhook_url=step["webhook_url"],
            variant=step.get("variant", ""),
        )
        for position, step in enumerate(definition["steps"])
    ]


def playbook_version_save(
    *,
    definition: dict[str, Any],
    source: str,
    now: datetime,
    actor: AbstractBaseUser | None,
    builtin: bool = False,
    expected_slug: str | None = None,
) -> LoadResult:
    """Stores a validated definition as the playbook's next version, unless it equals the
    current one. Runs already started keep the version they pinned."""
    if expected_slug is not None and definition["slug"] != expected_slug:
        raise DefinitionError(f"slug “{definition['slug']}” must stay “{expected_slug}” (make a new playbook instead)")
    digest = content_hash(definition)
    with transaction.atomic():
        playbook, _created = Playbook.objects.select_for_update().get_or_create(
            slug=definition["slug"], defaults={"created_at": now, "updated_at": now, "is_builtin": builtin}
        )
        # The row lock above serialises two loads of one playbook: the second sees the first's
        # version and either stops here (same content) or numbers its own one higher.
        current = playbook.current
        if current is not None and current.content_hash == digest:
            return LoadResult(playbook, current, False)
        number = (current.number if current else 0) + 1
        try:
            with transaction.atomic():
                version = PlaybookVersion.objects.create(
                    playbook=playbook,
                    number=number,
                    name=definition["name"],
                    description=definition["description"],
                    trigger=definition["trigger"],
                    trigger_rule=definition["trigger_rule"],
                    definition=definition,
                    content_hash=digest,
                    source=source[:300],
                    created_at=now,
                    created_by=actor,
                )
        except IntegrityError:
            raise DefinitionError("another save of this playbook happened at the same moment; try again") from None
        Step.objects.bulk_create(_steps_for(version, definition))
        playbook.current, playbook.updated_at = version, now
        playbook.save(update_fields=["current", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.PLAYBOOK_VERSION_CREATE,
            target=playbook,
            at=now,
            before={"version": current.number} if current else None,
            after={"version": number, "source": source[:300], "hash": digest},
        )
    return LoadResult(playbook, version, True)


def playbook_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in PLAYBOOK_SUFFIXES)
        elif path.exists():
            files.append(path)
        else:
            raise DefinitionError("no such file or folder", source=str(path))
    return files


def playbooks_load(
    *, paths: list[Path] | None = None, now: datetime, actor: AbstractBaseUser | None = None
) -> list[LoadResult]:
    """Loads every file; all of them are parsed and checked before any is stored, so one bad
    file rejects the whole load."""
    builtin = paths is None
    files = playbook_files(paths if paths is not None else [LIBRARY_DIR])
    definitions = [(parse(f.read_text(encoding="utf-8"), source=f.name), f.name) for f in files]
    slugs = [d["slug"] for d, _ in definitions]
    duplicate = next((s for s in slugs if slugs.count(s) > 1), None)
    if duplicate:
        raise DefinitionError(f"two files define the playbook “{duplicate}”")
    with transaction.atomic():
        return [
            playbook_version_save(definition=d, source=name, now=now, actor=actor, builtin=builtin)
            for d, name in definitions
        ]


def library_install_missing(*, now: datetime) -> int:
    """Installs built-in playbooks that do not exist yet; never touches one that does (staff
    may have edited it). Runs after migrate."""
    existing = set(Playbook.objects.values_list("slug", flat=True))
    files = playbook_files([LIBRARY_DIR])
    installed = 0
    for f in files:
        definition = parse(f.read_text(encoding="utf-8"), source=f.name)
        if definition["slug"] not in existing:
            playbook_version_save(definition=definition, source=f.name, now=now, actor=None, builtin=True)
            installed += 1
    return installed
