from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from tenants.admin import AuditedAdmin

from .forms import MILESTONE_FIELDS, milestone_config_errors
from .models import Milestone, OnboardingTemplate, TenantOnboarding
from .services import template_new_version


class MilestoneForm(forms.ModelForm):
    class Meta:
        model = Milestone
        fields = ["position", *MILESTONE_FIELDS]

    def clean(self) -> dict:
        data = super().clean()
        for field, message in milestone_config_errors(data).items():
            self.add_error(field, message)
        return data


class MilestoneInline(admin.TabularInline):
    model = Milestone
    form = MilestoneForm
    extra = 0

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None or not _in_use(obj)

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission


def _in_use(template: OnboardingTemplate) -> bool:
    return TenantOnboarding.all_tenants.filter(template=template).exists()


@admin.register(OnboardingTemplate)
class OnboardingTemplateAdmin(AuditedAdmin):
    """A version tenants already follow is history: copy it to a new version to change it."""

    list_display = ["name", "slug", "version", "is_current", "is_default", "created_at"]
    list_filter = ["slug", "is_current"]
    inlines = [MilestoneInline]
    actions = ["new_version"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and _in_use(obj):
            return [
                "slug",
                "version",
                "name",
                "description",
                "is_default",
                "plans",
                "segments",
                "is_current",
                "created_at",
            ]
        return ["version", "is_current", "created_at"]

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.version = (
                OnboardingTemplate.objects.filter(slug=obj.slug)
                .order_by("-version")
                .values_list("version", flat=True)
                .first()
                or 0
            ) + 1
            obj.created_at = timezone.now()
            OnboardingTemplate.objects.filter(slug=obj.slug, is_current=True).update(is_current=False)
            obj.is_current = True
        super().save_model(request, obj, form, change)

    @admin.action(description="Copy to a new version (new signups get it)")
    def new_version(self, request, queryset) -> None:
        for template in queryset:
            copy = template_new_version(template=template, actor=request.user, now=timezone.now())
            self.message_user(request, f"{copy} created; edit its milestones before the next signup.", messages.SUCCESS)
