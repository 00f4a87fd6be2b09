"""The knowledge base (seed 000 Day 7: offers, policies, objection handling; seed 003: common
issues and their solutions). An article is what the team reads now; every save keeps a
version, so what an article said on a date can be read back."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    OFFER = "offer", "Offer"
    POLICY = "policy", "Policy"
    OBJECTION = "objection", "Objection handling"
    TROUBLESHOOTING = "troubleshooting", "Troubleshooting"
    HOW_TO = "how_to", "How-to"


class Audience(models.TextChoices):
    # Internal articles (price escalations, objection scripts) never reach a customer: only
    # CUSTOMERS articles open at /help/<slug>/ and may be linked from messages to owners.
    INTERNAL = "internal", "CS team only"
    CUSTOMERS = "customers", "Customers too"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class Article(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.INTERNAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PUBLISHED)
    body = models.TextField(help_text="Markdown; rendered sanitised.")
    # Lower-case words, kept sorted; filtered with a JSON lookup-free LIKE on `tag_text`.
    tags = models.JSONField(default=list, blank=True)
    tag_text = models.CharField(max_length=500, blank=True, help_text="“,tag1,tag2,” for filtering.")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    updated_by_label = models.CharField(max_length=200)

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["kind", "status"], name="article_kind_status")]

    def __str__(self) -> str:
        return self.title


class ArticleVersion(models.Model):
    """What an article said after one save: kept forever, never edited."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    audience = models.CharField(max_length=10, choices=Audience.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    tags = models.JSONField(default=list, blank=True)
    change_note = models.CharField(max_length=300, blank=True)
    edited_at = models.DateTimeField()
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    edited_by_label = models.CharField(max_length=200)

    class Meta:
        ordering = ["-number"]
        # The version counter's guard: two saves of one article at once cannot both be v3.
        constraints = [models.UniqueConstraint(fields=["article", "number"], name="article_version_once")]

    def __str__(self) -> str:
        return f"{self.article_id} v{self.number}"
