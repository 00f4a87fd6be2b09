"""Writes for the QA workspace: a review (validated whole, on the tenant's timeline, audited)
and its action items, each of which becomes a task or a knowledge-base draft in the same
transaction — an action item is never left pointing at nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.text import slugify

from core.events import AuditAction, TimelineKind
from health.ingest import events_ingest
from health.selectors import event_get
from knowledge.models import Article, Audience, Kind, Status
from knowledge.services import article_save
from playbooks.services import task_create
from tenants.models import Tenant
from tenants.services import audit_record, timeline_record

from .models import RUBRIC, RUBRIC_MAX, RUBRIC_MIN, ActionItem, Review

HIGHLIGHTS_MAX = 20_000
ACTION_TEXT_MAX = 500
TASK_DUE_IN = timedelta(days=2)


def _scores_from(raw: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, int]:
    scores: dict[str, int] = {}
    for key, (label, _) in RUBRIC.items():
        value = raw.get(key)
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError):
            number = 0
        if not RUBRIC_MIN <= number <= RUBRIC_MAX:
            errors[f"score_{key}"] = [f"Score “{label}” from {RUBRIC_MIN} to {RUBRIC_MAX}."]
        else:
            scores[key] = number
    return scores


def rubric_score(scores: dict[str, int]) -> int:
    """The rubric's mean on 0–100: all 1s are 0, all 5s are 100."""
    mean = sum(scores.values()) / len(scores)
    return round((mean - RUBRIC_MIN) / (RUBRIC_MAX - RUBRIC_MIN) * 100)


def review_create(
    *,
    tenant: Tenant,
    title: str,
    interaction_url: str,
    event_id: int | None,
    scores: dict[str, Any],
    highlights: str,
    actor: AbstractBaseUser,
    now: datetime,
) -> Review:
    errors: dict[str, list[str]] = {}
    title, url, highlights = " ".join(title.split()), interaction_url.strip(), highlights.strip()
    if not title:
        errors["title"] = ["Name what was reviewed, e.g. “Call with a new patient, Tue 10:14”."]
    elif len(title) > 200:
        errors["title"] = [f"A title holds at most 200 characters; this one has {len(title)}."]
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            errors["interaction_url"] = [f"“{url[:60]}” is not a web address (https://…)."]
    event = event_get(tenant=tenant, event_id=event_id) if event_id is not None else None
    if event_id is not None and event is None:
        errors["event_id"] = [f"{tenant.name} has no event {event_id}: pick one of its events."]
    if not url and event_id is None:
        errors["interaction_url"] = ["Link the recording or transcript, or pick the event it was."]
    checked = _scores_from(scores, errors)
    if len(highlights) > HIGHLIGHTS_MAX:
        errors["highlights"] = [
            f"Highlights hold at most {HIGHLIGHTS_MAX:,} characters; these have {len(highlights):,}."
        ]
    if "\x00" in title + url + highlights:
        errors.setdefault("highlights", []).append("The text contains a NUL character; remove it.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        review = Review.objects.create(
            tenant=tenant,
            title=title,
            interaction_url=url,
            event_id=event.id if event else None,
            event_name=event.name if event else "",
            interaction_at=event.occurred_at if event else None,
            scores=checked,
            score=rubric_score(checked),
            highlights=highlights,
            reviewer=actor,
            reviewer_label=(actor.get_full_name() or actor.get_username())[:200],
            created_at=now,
        )
        # The score joins the tenant's events, so a health model that weighs the QA score
        # reads it from the rollups like NPS; the key makes it once per review.
        events_ingest(
            events=[
                {
                    "name": "qa.reviewed",
                    "occurred_at": now.isoformat(),
                    "properties": {"score": review.score, "review": review.id},
                    "idempotency_key": f"qa-review:{review.id}",
                }
            ],
            bound_tenant=tenant,
            now=now,
        )
        timeline_record(
            tenant=tenant,
            at=now,
            kind=TimelineKind.QA_REVIEWED,
            summary=f"QA review by {review.reviewer_label}: {title} — {review.score}/100",
            data={"review": review.id, "score": review.score},
        )
        audit_record(
            actor=actor,
            action=AuditAction.QA_REVIEW,
            target=review,
            tenant=tenant,
            at=now,
            after={"title": title, "scores": checked, "score": review.score},
        )
    return review


def _free_slug(text: str) -> str:
    base = slugify(text)[:60].strip("-") or "qa-note"
    slug, n = base, 2
    while Article.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def action_item_add(*, review: Review, text: str, becomes: str, actor: AbstractBaseUser, now: datetime) -> ActionItem:
    """An action item of a review, made at once into what it is for: a task for the tenant's
    CSM (or the reviewer), due in two days; or a draft knowledge article the team finishes."""
    text = " ".join(text.split())
    if not text:
        raise ValidationError({"text": ["Say what is to be done."]})
    if len(text) > ACTION_TEXT_MAX:
        raise ValidationError(
            {"text": [f"An action item holds at most {ACTION_TEXT_MAX} characters; this one has {len(text)}."]}
        )
    if becomes not in ActionItem.Becomes.values:
        raise ValidationError({"becomes": ["Choose whether it becomes a task or a knowledge-base draft."]})
    tenant = review.tenant
    source = review.interaction_url or f"event {review.event_name} #{review.event_id}"
    with transaction.atomic():
        item = ActionItem(tenant=tenant, review=review, text=text, becomes=becomes, created_at=now)
        if becomes == ActionItem.Becomes.TASK:
            item.task = task_create(
                tenant=tenant,
                title=text[:300],
                due_at=now + TASK_DUE_IN,
                assignee=tenant.csm_owner or actor,
                body=f"From the QA review “{review.title}” ({source}).",
                actor=actor,
                now=now,
            )
        else:
            item.article = article_save(
                article=None,
                slug=_free_slug(text),
                title=text[:200],
                kind=Kind.HOW_TO,
                audience=Audience.INTERNAL,
                status=Status.DRAFT,
                body=f"_Draft from the QA review of {tenant.name}, “{review.title}” ({source})._\n\n{text}\n",
                tags=["qa"],
                change_note="Drafted from a QA action item",
                actor=actor,
                now=now,
            )
        item.save(force_insert=True)
        audit_record(
            actor=actor,
            action=AuditAction.QA_ACTION_ITEM,
            target=item,
            tenant=tenant,
            at=now,
            after={"text": text, "becomes": becomes, "task": item.task_id, "article": item.article_id},
        )
    return item
