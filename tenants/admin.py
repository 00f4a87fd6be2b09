from django.contrib import admin
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from core.events import AuditAction

from .models import ApiKey, AuditLog, Membership, Tenant, TimelineEntry
from .services import api_key_revoke, audit_record, tenant_timezone_change


def _snapshot(obj) -> dict:
    return {key: value for key, value in model_to_dict(obj).items() if key not in {"password", "key_hash"}}


class AuditedAdmin(admin.ModelAdmin):
    """Django admin edits land in the audit log like every other staff action, with the
    state before and after."""

    def save_model(self, request, obj, form, change) -> None:
        # The default manager of tenant-owned models is `all_tenants`, so this finds any row.
        before = _snapshot(type(obj)._default_manager.get(pk=obj.pk)) if change else None
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=request.user,
                action=f"admin.{'change' if change else 'add'}",
                target=obj,
                tenant=obj if isinstance(obj, Tenant) else getattr(obj, "tenant", None),
                at=timezone.now(),
                before=before,
                after=_snapshot(obj),
                ip=request.META.get("REMOTE_ADDR"),
            )

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            audit_record(
                actor=request.user,
                action=AuditAction.ADMIN_DELETE,
                target=obj,
                tenant=None if isinstance(obj, Tenant) else getattr(obj, "tenant", None),
                at=timezone.now(),
                before=_snapshot(obj),
                ip=request.META.get("REMOTE_ADDR"),
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Tenant)
class TenantAdmin(AuditedAdmin):
    list_display = ["name", "external_id", "plan", "lifecycle_stage", "segment", "csm_owner", "signed_up_at"]
    list_filter = ["plan", "lifecycle_stage", "segment"]
    search_fields = ["name", "external_id", "owner_email"]
    readonly_fields = ["created_at", "updated_at"]
    raw_id_fields = ["csm_owner"]

    def save_model(self, request, obj, form, change) -> None:
        # A new time zone goes through its service, so what is scheduled follows it; the
        # other fields are saved (and audited) as any admin edit.
        new_zone = obj.timezone
        if change and "timezone" in form.changed_data:
            obj.timezone = form.initial["timezone"]
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change and new_zone != obj.timezone:
                moved = tenant_timezone_change(
                    tenant=obj,
                    timezone=new_zone,
                    actor=request.user,
                    now=timezone.now(),
                    ip=request.META.get("REMOTE_ADDR"),
                )
                obj.timezone = moved.timezone


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    list_display = ["tenant", "user", "role", "created_at"]
    list_filter = ["role"]
    raw_id_fields = ["tenant", "user"]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(AuditedAdmin):
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
