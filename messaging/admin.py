from django.contrib import admin

from .models import Message


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
