"""Reads of the outbox for the pages that show what became of a message."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .models import Message

# A message that will not go out unless a person does something.
NOT_SENT = (Message.Status.FAILED, Message.Status.NEEDS_REVIEW, Message.Status.SKIPPED)


def latest_by_topic(*, purpose: str, topics: Iterable[str]) -> dict[str, Message]:
    """The newest message of `purpose` about each topic (“subscription:3”), by topic."""
    latest: dict[str, Message] = {}
    for message in Message.objects.filter(purpose=purpose, topic__in=list(topics)).order_by("created_at", "id"):
        latest[message.topic] = message
    return latest


def messages_about(*, topic: str) -> list[Message]:
    """Every message about one thing (“delivery:12”: each attempt of a touchpoint), oldest first."""
    return list(Message.objects.filter(topic=topic).order_by("created_at", "id"))


def outbox_counts(*, since: datetime) -> dict[str, int]:
    """Messages created since `since` that failed and that went out, and every message other
    than a touchpoint's waiting in review (a touchpoint's is counted with its delivery)."""
    recent = Message.objects.filter(created_at__gte=since)
    return {
        "failed": recent.filter(status=Message.Status.FAILED).count(),
        "sent": recent.filter(status__in=[Message.Status.SENT, Message.Status.DELIVERED]).count(),
        "review": Message.objects.filter(status=Message.Status.NEEDS_REVIEW)
        .exclude(purpose__startswith="touchpoint.")
        .count(),
    }
