from django.contrib import admin
from django.http import HttpRequest

from .models import JobHeartbeat


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows that change only through their app's services (versions, audit, timeline):
    the Django admin can look them up, never add, edit or delete them."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(JobHeartbeat)
class JobHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_now", "last_finished_at", "last_summary", "last_error"]
