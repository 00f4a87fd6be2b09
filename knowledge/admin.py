"""Articles are written in the cockpit (/admin/knowledge/), where each save keeps a version and
lands in the audit log; here they can be looked up. Never deleted: messages link them by slug
(unpublish instead)."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import Article, ArticleVersion


@admin.register(Article)
class ArticleAdmin(ReadOnlyAdmin):
    list_display = ("title", "kind", "audience", "status", "version", "updated_at")
    list_filter = ("kind", "audience", "status")
    search_fields = ("title", "slug", "body")


@admin.register(ArticleVersion)
class ArticleVersionAdmin(ReadOnlyAdmin):
    list_display = ("article", "number", "edited_by_label", "edited_at")
