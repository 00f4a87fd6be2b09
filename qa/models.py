"""The QA workspace (seed 000 Day 7: “pull at least two call recordings into the QA workspace;
log highlights + action items”): a review of one interaction of a tenant — a recording or
transcript link, or one of its ingested events such as a handled call — scored against a
small rubric, with highlights and action items that become tasks or knowledge-base drafts."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.scoping import TenantOwnedModel
from tenants.models import Tenant

# The rubric: what a first-week review of an AI receptionist's calls looks at (seed 000 Day 7:
# “correct conversational gaps”; offers, policies and objection handling). Each is 1–5.
RUBRIC: dict[str, tuple[str, str]] = {
    "greeting": ("Greeting and tone", "Answered promptly, named the business, sounded like them"),
    "understanding": ("Understood the request", "Got what the caller wanted without repeating themselves"),
    "accuracy": ("Accurate answers", "Offers, prices, hours and policies were right"),
    "outcome": ("Booked or routed", "Ended in a booking, a message or the right person"),
    "objections": ("Handled objections", "Price, timing and trust concerns were met, not dodged"),
}
RUBRIC_MIN, RUBRIC_MAX = 1, 5


class Review(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    # What was reviewed: a link to the recording or transcript, or an ingested event (e.g. a
    # call.handled) by id — at least one of the two.
    interaction_url = models.URLField(max_length=500, blank=True)
    event_id = models.BigIntegerField(null=True, blank=True, help_text="An event of this tenant (health.Event).")
    event_name = models.CharField(max_length=64, blank=True)
    interaction_at = models.DateTimeField(null=True, blank=True)
    scores = models.JSONField(default=dict, help_text="Rubric criterion → 1..5.")
    score = models.PositiveSmallIntegerField(help_text="0–100: the rubric's mean, scaled.")
    highlights = models.TextField(blank=True, help_text="Markdown.")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reviewer_label = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta(TenantOwnedModel.Meta):
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="qa_review_tenant"),
            models.Index(fields=["-created_at"], name="qa_review_created"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def score_rows(self) -> list[tuple[str, int | None]]:
        return [(label, self.scores.get(key)) for key, (label, _) in RUBRIC.items()]


class ActionItem(TenantOwnedModel):
    class Becomes(models.TextChoices):
        TASK = "task", "A task"
        ARTICLE = "article", "A knowledge-base draft"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="action_items")
    text = models.CharField(max_length=500)
    becomes = models.CharField(max_length=10, choices=Becomes.choices)
    task = models.ForeignKey("playbooks.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    article = models.ForeignKey("knowledge.Article", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta(TenantOwnedModel.Meta):
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.text
