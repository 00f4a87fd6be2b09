"""POST /api/v1/events/: batches of product-usage events (CONTRACTS.md)."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.api_auth import scopes_required
from tenants.models import ApiKey

from .ingest import MAX_BODY_BYTES, IngestError, IngestRejected, events_ingest, parse_body

logger = logging.getLogger(__name__)

EventSchema = inline_serializer(
    "Event",
    {
        "tenant": serializers.CharField(required=False, help_text="external_id; optional for a tenant-bound key"),
        "name": serializers.RegexField(r"^[a-z][a-z0-9_.]{0,63}$"),
        "occurred_at": serializers.DateTimeField(help_text="ISO 8601 with offset; at most 5 minutes ahead"),
        "user_id": serializers.CharField(required=False),
        "properties": serializers.DictField(required=False, help_text="an object, nested at most 5 levels"),
        "idempotency_key": serializers.CharField(required=False, max_length=128),
    },
)


class EventIngestView(APIView):
    permission_classes = [scopes_required(ApiKey.Scope.INGEST)]

    @extend_schema(
        request=inline_serializer("EventBatch", {"events": serializers.ListField(child=EventSchema, max_length=1000)}),
        responses={
            202: inline_serializer(
                "Accepted", {"accepted": serializers.IntegerField(), "duplicates": serializers.IntegerField()}
            ),
            400: inline_serializer("IngestErrors", {"errors": serializers.ListField(child=serializers.DictField())}),
            413: inline_serializer("TooLarge", {"errors": serializers.ListField(child=serializers.DictField())}),
        },
        examples=[
            OpenApiExample(
                "One event",
                value={
                    "events": [
                        {
                            "tenant": "cg-1001",
                            "name": "feature.used",
                            "occurred_at": "2026-11-22T09:00:00Z",
                            "user_id": "u-17",
                            "properties": {"feature": "call_summary"},
                            "idempotency_key": "evt-8812",
                        }
                    ]
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        # The body is parsed here rather than by DRF's parser: size limits first, one json.loads,
        # and errors in the contract's per-index shape.
        try:
            if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
                # Refused before the body is read into memory.
                raise IngestRejected(
                    [IngestError(None, "body", f"The body is over {MAX_BODY_BYTES:,} bytes.")], too_large=True
                )
            events = parse_body(request.body)
            result = events_ingest(events=events, bound_tenant=request.auth.tenant, now=timezone.now())
        except IngestRejected as rejected:
            code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE if rejected.too_large else status.HTTP_400_BAD_REQUEST
            return Response({"errors": [e.__dict__ for e in rejected.errors]}, status=code)
        except (OperationalError, InterfaceError) as exc:
            # The transaction rolled back: nothing of the batch is stored, and the client can
            # send the same batch again (idempotency keys make the retry safe).
            logger.error("event ingest failed, database unavailable: %s", exc)
            return Response(
                {"error": "The database is unavailable; nothing was stored. Retry the same batch."},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response({"accepted": result.accepted, "duplicates": result.duplicates}, status=status.HTTP_202_ACCEPTED)
