from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone

from tenants.admin import AuditedAdmin

from .models import DailyRollup, HealthModel, HealthScore
from .services import health_model_publish, validate_components


class HealthModelAdminForm(forms.ModelForm):
    class Meta:
        model = HealthModel
        fields = ["name", "healthy_min", "at_risk_min", "warmup_days", "components", "notes"]

    def clean_components(self) -> list:
        try:
            return validate_components(self.cleaned_data["components"])
        except ValidationError as error:
            raise ValidationError(error.message_dict["components"]) from None

    def clean(self) -> dict:
        data = super().clean()
        healthy, at_risk = data.get("healthy_min"), data.get("at_risk_min")
        if healthy is not None and at_risk is not None and not 0 < at_risk < healthy <= 100:
            raise ValidationError("Buckets need 0 < at-risk minimum < healthy minimum ≤ 100.")
        return data


@admin.register(HealthModel)
class HealthModelAdmin(AuditedAdmin):
    """Drafts are edited here or in the cockpit; a published or retired version is history and
    stays as it was (scores point at it). Publishing goes through the service (audited)."""

    form = HealthModelAdminForm
    list_display = ["version", "name", "status", "healthy_min", "at_risk_min", "created_at", "published_at"]
    list_filter = ["status"]
    actions = ["publish"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != HealthModel.Status.DRAFT:
            return ["name", "healthy_min", "at_risk_min", "warmup_days", "components", "notes"]
        return []

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            # New versions get the next number; they always start as drafts.
            obj.version = (HealthModel.objects.order_by("-version").values_list("version", flat=True).first() or 0) + 1
            obj.status, obj.created_at, obj.created_by = HealthModel.Status.DRAFT, timezone.now(), request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is None or obj.status == HealthModel.Status.DRAFT

    @admin.action(description="Publish the selected draft")
    def publish(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one draft to publish.", messages.ERROR)
            return
        try:
            model = health_model_publish(model=queryset.get(), actor=request.user, now=timezone.now())
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            self.message_user(request, f"v{model.version} is published.")


@admin.register(HealthScore)
class HealthScoreAdmin(admin.ModelAdmin):
    list_display = ["tenant", "day", "score", "bucket", "model", "computed_at"]
    list_filter = ["bucket"]
    raw_id_fields = ["tenant"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DailyRollup)
class DailyRollupAdmin(admin.ModelAdmin):
    list_display = ["tenant", "day", "name", "count", "distinct_users"]
    list_filter = ["name"]
    raw_id_fields = ["tenant"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
