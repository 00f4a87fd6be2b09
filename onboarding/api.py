"""POST /api/v1/tenants/ (admin keys): a tenant created by the SaaS backend onboards like a
signup. It lives here, not in tenants, because creating one starts its onboarding; the list
on the same path is tenants' own view, which this one extends."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.api import TenantListView, TenantSerializer
from tenants.api_auth import scopes_required
from tenants.models import ApiKey, Tenant
from tenants.services import TenantAlreadyExists

from .services import tenant_import


class StrictBooleanField(serializers.BooleanField):
    """true or false, as JSON booleans: DRF's own field would take "yes", "0" or 1, and a
    consent recorded from a guess is no consent."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean), not {input!r}."}

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)
        raise AssertionError  # fail() raises; this satisfies the type checker


class TenantCreateSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    owner_email = serializers.EmailField()
    owner_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    owner_phone = serializers.CharField(
        max_length=20, required=False, allow_blank=True, default="", help_text="E.164, e.g. +14155550123"
    )
    plan = serializers.ChoiceField(choices=Tenant.Plan.choices)
    timezone = serializers.CharField(max_length=64, required=False, default="UTC", help_text="IANA name")
    signed_up_at = serializers.DateTimeField(required=False, help_text="ISO 8601; default now")
    segment = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    sms_consent = StrictBooleanField(
        required=False,
        default=False,
        help_text="The owner agreed to SMS (recorded with its time and source `api`); "
        "without it SMS steps are skipped with the reason “no SMS consent”. Needs owner_phone.",
    )


class TenantListCreateView(TenantListView):
    def get_permissions(self) -> list:
        if self.request.method == "POST":
            return [scopes_required(ApiKey.Scope.ADMIN)()]
        return super().get_permissions()

    @extend_schema(
        request=TenantCreateSerializer,
        responses={
            201: TenantSerializer,
            400: inline_serializer("ValidationErrors", {"errors": serializers.DictField()}),
            403: inline_serializer("Forbidden", {"error": serializers.CharField()}),
            409: inline_serializer("Conflict", {"error": serializers.CharField()}),
        },
    )
    def post(self, request: Request) -> Response:
        if request.auth.tenant_id is not None:
            return Response(
                {"error": "A tenant-bound API key cannot create tenants."}, status=status.HTTP_403_FORBIDDEN
            )
        serializer = TenantCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        now = timezone.now()
        try:
            tenant = tenant_import(
                external_id=data["external_id"],
                name=data["name"],
                owner_email=data["owner_email"],
                owner_name=data["owner_name"],
                owner_phone=data["owner_phone"],
                plan=data["plan"],
                timezone=data["timezone"],
                signed_up_at=data.get("signed_up_at") or now,
                segment=data["segment"],
                sms_consent=data["sms_consent"],
                now=now,
                actor=request.auth,
                ip=request.META.get("REMOTE_ADDR"),
            )
        except TenantAlreadyExists as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(TenantSerializer(tenant).data, status=status.HTTP_201_CREATED)
