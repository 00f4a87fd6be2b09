from django.contrib import admin
from django.utils import timezone

from .models import ApiKey, AuditLog, JobHeartbeat, Membership, Tenant, TimelineEntry
from .services import api_key_revoke


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id", "plan", "lifecycle_stage", "segment", "csm_owner", "signed_up_at"]
    list_filter = ["plan", "lifecycle_stage", "segment"]
    search_fields = ["name", "external_id", "owner_email"]
    readonly_fields = ["created_at", "updated_at"]
    raw_id_fields = ["csm_owner"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["tenant", "user", "role", "created_at"]
    list_filter = ["role"]
    raw_id_fields = ["tenant", "user"]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "tenant", "kind", "summary"]
    list_filter = ["kind"]
    raw_id_fields = ["tenant"]


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Read-only: the audit log is written by services, never edited by hand."""

    list_display = ["at", "actor_label", "action", "target_repr", "tenant", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_label", "target_repr"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created with `manage.py create_api_key` (the secret is shown once there)."""

    list_display = ["name", "prefix", "scope", "tenant", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    readonly_fields = [
        "name",
        "prefix",
        "key_hash",
        "scope",
        "tenant",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset) -> None:
        now = timezone.now()
        for api_key in queryset:
            api_key_revoke(api_key=api_key, actor=request.user, now=now)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(JobHeartbeat)
class JobHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_now", "last_finished_at", "last_summary", "last_error"]
