"""/api/v1/tenants/{external_id}/touchpoints/ — every touchpoint of the tenant's runs."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants import selectors as tenant_selectors
from tenants.api_auth import scopes_required
from tenants.models import ApiKey

from . import selectors
from .models import Channel, Delivery


class TouchpointSerializer(serializers.Serializer):
    playbook = serializers.CharField(help_text="Playbook slug, e.g. onboarding-30")
    step = serializers.CharField(help_text="Step key, e.g. welcome-email")
    day = serializers.IntegerField(help_text="Day offset from the run's anchor (signup for onboarding)")
    channel = serializers.ChoiceField(choices=Channel.choices)
    due_at = serializers.DateTimeField(help_text="When it goes: inside the tenant's send window")
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    sent_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(help_text="Why it was skipped, failed, deferred or cancelled; empty otherwise")


class TenantTouchpointsView(APIView):
    permission_classes = [scopes_required(ApiKey.Scope.READ, ApiKey.Scope.ADMIN)]

    @extend_schema(responses=TouchpointSerializer(many=True))
    def get(self, request: Request, external_id: str) -> Response:
        # A key bound to another tenant gets the same 404 as an unknown id.
        tenant = tenant_selectors.tenant_get_for_key(api_key=request.auth, external_id=external_id)
        return Response(TouchpointSerializer(selectors.touchpoints_api(tenant=tenant), many=True).data)
