"""Every API error is JSON: 400 {"errors": {field: [message]}}, others {"error": message}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


def _as_messages(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _as_messages(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_as_messages(item) for item in detail]
    return str(detail)


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {"errors": _as_messages(detail)}
    elif isinstance(exc, exceptions.ParseError):
        response.data = {"errors": {"non_field_errors": [str(exc.detail)]}}
    else:
        response.data = {"error": _as_messages(getattr(exc, "detail", str(exc)))}
    return response
