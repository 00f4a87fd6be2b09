"""GET /api/v1/status/ — the system status for an uptime checker (CONTRACTS.md): read or admin
keys that are not bound to a tenant. 200 while ok or degraded, 503 when down, so a checker
that only reads the status code still pages someone."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.api_auth import scopes_required
from tenants.models import ApiKey

from .status import DOWN, system_status

STATUSES = ("ok", "degraded", "down")


class CheckSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="tick, queue, outbox_failures, outbox_review, stripe_webhooks, ingest")
    status = serializers.ChoiceField(choices=STATUSES)
    value = serializers.CharField(help_text="What was measured, in words: “42 s ago”, “3 waiting”")
    threshold = serializers.CharField(help_text="When it is degraded and when down")
    detail = serializers.CharField()


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATUSES, help_text="The worst of the checks")
    checked_at = serializers.DateTimeField()
    checks = CheckSerializer(many=True)


class StatusView(APIView):
    permission_classes = [scopes_required(ApiKey.Scope.READ, ApiKey.Scope.ADMIN)]

    @extend_schema(responses={200: StatusSerializer, 503: StatusSerializer})
    def get(self, request: Request) -> Response:
        if request.auth.tenant_id is not None:
            raise PermissionDenied("System status is not for a key bound to one tenant: use an unbound read key.")
        reading = system_status(now=timezone.now())
        body = {
            "status": reading.status,
            "checked_at": reading.checked_at,
            "checks": [check.as_json() for check in reading.checks],
        }
        return Response(StatusSerializer(body).data, status=503 if reading.status == DOWN else 200)
