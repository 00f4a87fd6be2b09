"""Django admin for the playbooks app: read-mostly. Definitions change through versions (the
cockpit editor or load_playbooks), never by editing a row in place."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import Delivery, InAppMessage, Playbook, PlaybookVersion, Run, Task, TouchpointPause

# Deleting a run or a delivery would let the next tick start the tenant again and resend
# what it already had: history is cancelled through the cockpit, never deleted.


@admin.register(Playbook)
class PlaybookAdmin(ReadOnlyAdmin):
    list_display = ["slug", "enabled", "current", "is_builtin", "updated_at"]


@admin.register(PlaybookVersion)
class PlaybookVersionAdmin(ReadOnlyAdmin):
    list_display = ["playbook", "number", "name", "trigger", "source", "created_at"]
    list_filter = ["playbook"]


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "version", "status", "trigger", "started_at", "cancelled_reason"]
    list_filter = ["status", "playbook"]
    list_select_related = ["tenant", "version__playbook"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "step", "status", "due_at", "sent_at", "reason"]
    list_filter = ["status", "step__channel"]
    list_select_related = ["tenant", "step__version__playbook"]
    search_fields = ["tenant__external_id", "provider_id", "recipient"]


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ["title", "tenant", "assignee", "role", "due_at", "status"]
    list_filter = ["status", "role"]


@admin.register(InAppMessage)
class InAppMessageAdmin(ReadOnlyAdmin):
    list_display = ["title", "tenant", "created_at", "dismissed_at"]


@admin.register(TouchpointPause)
class TouchpointPauseAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "paused_at", "paused_by", "note"]
