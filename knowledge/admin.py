from django.contrib import admin
from django.http import HttpRequest

from .models import Article, ArticleVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    """Articles are written in the cockpit (/admin/knowledge/), where each save keeps a version
    and lands in the audit log; here they can be looked up, not changed."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Messages link articles by slug: one that vanished would break them. Unpublish instead.
        return False


@admin.register(Article)
class ArticleAdmin(ReadOnlyAdmin):
    list_display = ("title", "kind", "audience", "status", "version", "updated_at")
    list_filter = ("kind", "audience", "status")
    search_fields = ("title", "slug", "body")


@admin.register(ArticleVersion)
class ArticleVersionAdmin(ReadOnlyAdmin):
    list_display = ("article", "number", "edited_by_label", "edited_at")
