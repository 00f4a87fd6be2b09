"""GET /api/v1/alerts/?tenant=&status=&rule= — alerts, newest first (CONTRACTS.md)."""

from __future__ import annotations

from datetime import datetime

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants import selectors as tenant_selectors
from tenants.api_auth import scopes_required
from tenants.models import ApiKey

from . import selectors
from .models import Alert, Severity
from .rules import RULES

MAX_RESULTS = 1000


class AlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    tenant = serializers.CharField(source="tenant.external_id", help_text="The tenant's external_id")
    rule = serializers.CharField(source="rule.slug", help_text="Rule slug, e.g. no_activity")
    severity = serializers.ChoiceField(choices=Severity.choices)
    status = serializers.ChoiceField(choices=Alert.Status.choices)
    opened_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    assignee = serializers.CharField(source="assignee.username", allow_null=True, default=None)
    rationale = serializers.CharField(help_text="Why it opened, e.g. “no events for 9 days”")


def _parse_time(name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationError({name: [f"“{raw}” is not an ISO 8601 date and time."]}) from None
    if value.tzinfo is None:
        raise ValidationError({name: ["Give a time zone, e.g. 2026-11-16T00:00:00Z."]})
    return value


class AlertListView(APIView):
    permission_classes = [scopes_required(ApiKey.Scope.READ, ApiKey.Scope.ADMIN)]

    @extend_schema(
        parameters=[
            OpenApiParameter("tenant", str, description="external_id; a tenant-bound key sees only its own"),
            OpenApiParameter("status", str, enum=Alert.Status.values),
            OpenApiParameter("rule", str, enum=sorted(RULES)),
            OpenApiParameter("opened_after", str, description="ISO 8601, inclusive"),
            OpenApiParameter("opened_before", str, description="ISO 8601, exclusive"),
        ],
        responses=AlertSerializer(many=True),
        description=f"Newest first, at most {MAX_RESULTS}; narrow with opened_after / opened_before "
        "(the response has `X-Truncated: true` when there were more).",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        tenant = None
        if params.get("tenant"):
            # Unknown and another tenant's are the same 404.
            tenant = tenant_selectors.tenant_get_for_key(api_key=request.auth, external_id=params["tenant"])
        if (status := params.get("status")) and status not in Alert.Status.values:
            raise ValidationError({"status": [f"status must be one of {', '.join(Alert.Status.values)}."]})
        if (rule := params.get("rule")) and rule not in RULES:
            raise ValidationError({"rule": [f"“{rule}” is not a rule; rules: {', '.join(sorted(RULES))}."]})
        alerts = selectors.alerts_for_key(
            api_key=request.auth,
            tenant=tenant,
            status=status or "",
            rule=rule or "",
            opened_after=_parse_time("opened_after", raw) if (raw := params.get("opened_after")) else None,
            opened_before=_parse_time("opened_before", raw) if (raw := params.get("opened_before")) else None,
        )
        page = list(alerts[: MAX_RESULTS + 1])
        response = Response(AlertSerializer(page[:MAX_RESULTS], many=True).data)
        if len(page) > MAX_RESULTS:
            response["X-Truncated"] = "true"
        return response
