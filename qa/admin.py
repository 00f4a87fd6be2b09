"""QA reviews are written in the QA workspace (/admin/qa/), audited and on the timeline; here
they can be looked up."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import ActionItem, Review


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("title", "tenant", "score", "reviewer_label", "created_at")
    search_fields = ("title", "tenant__name", "tenant__external_id")


@admin.register(ActionItem)
class ActionItemAdmin(ReadOnlyAdmin):
    list_display = ("text", "becomes", "tenant", "created_at")
