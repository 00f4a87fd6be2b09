from django.contrib import admin

from .models import Message, Suppression


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Read-only: messages are written by the outbox; a person decides on one in review by
    looking here and at the provider."""

    list_display = ["created_at", "purpose", "channel", "recipient", "status", "attempts", "sent_at"]
    list_filter = ["status", "channel", "purpose"]
    search_fields = ["recipient", "dedupe_key", "topic"]
    raw_id_fields = ["tenant", "user"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """Staff may remove a suppression (the customer asked to be contacted again): deleting is allowed."""

    list_display = ["channel", "address", "reason", "detail", "created_at"]
    list_filter = ["channel", "reason"]
    search_fields = ["address"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
