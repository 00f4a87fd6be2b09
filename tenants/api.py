"""/api/v1/tenants/: create (admin keys), list and read (read or admin keys)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import api_sections, selectors
from .api_auth import scopes_required
from .models import ApiKey, HealthBucket, Tenant, TimelineEntry

READ_SCOPES = (ApiKey.Scope.READ, ApiKey.Scope.ADMIN)


class TenantSerializer(serializers.ModelSerializer):
    """The tenant as CONTRACTS.md describes it. `health`, `onboarding` and `subscription`
    are null until those parts of the product exist for the tenant; never invented."""

    csm = serializers.SerializerMethodField()
    health = serializers.SerializerMethodField()
    onboarding = serializers.SerializerMethodField()
    subscription = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = [
            "external_id",
            "name",
            "plan",
            "timezone",
            "signed_up_at",
            "lifecycle_stage",
            "segment",
            "csm",
            "owner_name",
            "owner_email",
            "owner_phone",
            "health",
            "onboarding",
            "subscription",
        ]

    def get_csm(self, tenant: Tenant) -> str | None:
        return tenant.csm_owner.get_username() if tenant.csm_owner else None

    def _section(self, name: str, tenant: Tenant) -> dict[str, Any] | None:
        # Lists pass every section's summaries for the page in the context (one query per
        # section per page); a single tenant gets each section's full block.
        listed = self.context.get("sections")
        if listed is not None:
            return listed.get(name, {}).get(tenant.id)
        return api_sections.section_detail(name, tenant)

    def get_health(self, tenant: Tenant) -> dict[str, Any] | None:
        return self._section("health", tenant)

    def get_onboarding(self, tenant: Tenant) -> dict[str, Any] | None:
        return self._section("onboarding", tenant)

    def get_subscription(self, tenant: Tenant) -> dict[str, Any] | None:
        return self._section("subscription", tenant)


class TimelineEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEntry
        fields = ["at", "kind", "summary", "data"]


class TenantListView(ListAPIView):
    """GET /api/v1/tenants/. POST on the same path (creating a tenant, which starts its
    onboarding) is onboarding.api.TenantListCreateView, built on this one."""

    serializer_class = TenantSerializer

    def get_permissions(self) -> list:
        return [scopes_required(*READ_SCOPES)()]

    def get_serializer(self, *args: Any, **kwargs: Any) -> TenantSerializer:
        if args and isinstance(args[0], list):  # a page of tenants
            kwargs.setdefault("context", self.get_serializer_context())["sections"] = api_sections.sections_for_list(
                args[0]
            )
        return super().get_serializer(*args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        plan, csm, bucket = params.get("plan", ""), params.get("csm", ""), params.get("bucket", "")
        if plan and plan not in Tenant.Plan.values:
            raise ValidationError({"plan": [f"plan must be one of {', '.join(Tenant.Plan.values)}."]})
        if bucket and bucket not in HealthBucket.values:
            raise ValidationError({"bucket": [f"bucket must be one of {', '.join(HealthBucket.values)}."]})
        return selectors.tenants_for_key(api_key=self.request.auth, plan=plan, csm=csm, bucket=bucket)

    @extend_schema(
        parameters=[
            OpenApiParameter("plan", str, enum=Tenant.Plan.values),
            OpenApiParameter("csm", str, description="username of the owning CSM"),
            OpenApiParameter("bucket", str, enum=HealthBucket.values),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class TenantDetailView(APIView):
    permission_classes = [scopes_required(*READ_SCOPES)]

    @extend_schema(responses=TenantSerializer)
    def get(self, request: Request, external_id: str) -> Response:
        tenant = selectors.tenant_get_for_key(api_key=request.auth, external_id=external_id)
        return Response(TenantSerializer(tenant).data)


class TenantTimelineView(APIView):
    permission_classes = [scopes_required(*READ_SCOPES)]

    @extend_schema(responses=TimelineEntrySerializer(many=True))
    def get(self, request: Request, external_id: str) -> Response:
        tenant = selectors.tenant_get_for_key(api_key=request.auth, external_id=external_id)
        entries = selectors.timeline_for_tenant(tenant=tenant)
        return Response(TimelineEntrySerializer(entries, many=True).data)
