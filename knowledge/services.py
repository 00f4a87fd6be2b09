"""Writes for the knowledge base: one function saves an article (new, or a new version of an
existing one), validated as a whole, in one transaction with its version row and audit row."""

from __future__ import annotations

import re
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from core.events import AuditAction
from tenants.services import audit_record

from .models import Article, ArticleVersion, Audience, Kind, Status

BODY_MAX = 50_000
TAGS_MAX = 10
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED_SLUGS = frozenset({"new"})  # /admin/knowledge/new/ is the editor
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def tags_from(text: str) -> list[str]:
    """“Billing, onboarding  sms” → ["billing", "onboarding", "sms"]: commas or spaces."""
    return sorted({t.strip().lower() for t in re.split(r"[,\s]+", text) if t.strip()})


def _validate(*, slug: str, title: str, kind: str, audience: str, status: str, body: str, tags: list[str]) -> dict:
    errors: dict[str, list[str]] = {}
    if not SLUG_RE.match(slug) or len(slug) > 80:
        errors["slug"] = [
            f"“{slug[:40]}” is not a slug: lower-case letters, digits and single hyphens, e.g. refund-policy."
        ]
    elif slug in RESERVED_SLUGS:
        errors["slug"] = [f"“{slug}” is a page of the knowledge base: choose another slug."]
    if not title:
        errors["title"] = ["Give the article a title."]
    elif len(title) > 200:
        errors["title"] = [f"A title holds at most 200 characters; this one has {len(title)}."]
    for field, value, choices in (("kind", kind, Kind), ("audience", audience, Audience), ("status", status, Status)):
        if value not in choices.values:
            errors[field] = [f"“{value[:30]}” is not one of: {', '.join(str(c.label) for c in choices)}."]
    if not body.strip():
        errors["body"] = ["Write the article: its body is empty."]
    elif len(body) > BODY_MAX:
        errors["body"] = [f"An article holds at most {BODY_MAX:,} characters; this one has {len(body):,}."]
    bad_tags = [t for t in tags if not TAG_RE.match(t)]
    if bad_tags:
        errors["tags"] = [f"“{bad_tags[0][:40]}” is not a tag: letters, digits and hyphens, up to 40."]
    elif len(tags) > TAGS_MAX:
        errors["tags"] = [f"At most {TAGS_MAX} tags; there are {len(tags)}."]
    if any("\x00" in v for v in (slug, title, body, *tags)):
        errors.setdefault("body", []).append("The text contains a NUL character; remove it.")
    return errors


def article_save(
    *,
    article: Article | None,
    slug: str,
    title: str,
    kind: str,
    audience: str,
    status: str,
    body: str,
    tags: list[str],
    change_note: str = "",
    actor: AbstractBaseUser,
    now: datetime,
) -> Article:
    """Creates the article (article=None) or saves its next version. Nothing changed is not a
    version. A slug taken by another article, or any invalid field, raises ValidationError
    naming every problem; nothing is written."""
    slug, title, body = slug.strip().lower(), " ".join(title.split()), body.replace("\r\n", "\n").strip()
    errors = _validate(slug=slug, title=title, kind=kind, audience=audience, status=status, body=body, tags=tags)
    if errors:
        raise ValidationError(errors)
    label = (actor.get_full_name() or actor.get_username())[:200]
    fields = {"slug": slug, "title": title, "kind": kind, "audience": audience, "status": status, "body": body}
    with transaction.atomic():
        taken = Article.objects.filter(slug=slug).exclude(id=article.id if article else None).exists()
        if taken:
            raise ValidationError({"slug": [f"Another article already uses “{slug}”: choose another slug."]})
        if article is None:
            article = Article(**fields, tags=tags, created_at=now, version=1)
            action, before = AuditAction.ARTICLE_CREATE, None
        else:
            # Locked: two people saving at once make v3 and v4, not two v3s.
            article = Article.objects.select_for_update().get(id=article.id)
            before = {**{k: getattr(article, k) for k in fields}, "tags": article.tags, "version": article.version}
            if all(getattr(article, k) == v for k, v in fields.items()) and article.tags == tags:
                return article
            for key, value in fields.items():
                setattr(article, key, value)
            article.tags, article.version = tags, article.version + 1
            action = AuditAction.ARTICLE_EDIT
        article.tag_text = "," + ",".join(tags) + "," if tags else ""
        article.updated_at, article.updated_by_label = now, label
        article.save()
        ArticleVersion.objects.create(
            article=article,
            number=article.version,
            title=title,
            body=body,
            kind=kind,
            audience=audience,
            status=status,
            tags=tags,
            change_note=change_note.strip()[:300],
            edited_at=now,
            edited_by=actor,
            edited_by_label=label,
        )
        audit_record(
            actor=actor,
            action=action,
            target=article,
            at=now,
            before=before,
            after={**fields, "tags": tags, "version": article.version},
        )
    return article
