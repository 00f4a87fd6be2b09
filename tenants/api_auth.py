"""Bearer API-key authentication and scope permissions for the DRF API."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from .models import ApiKey
from .selectors import api_key_authenticate

LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme != self.keyword or not token.strip():
            raise exceptions.AuthenticationFailed("Authorization header must be “Bearer <api key>”.")
        api_key = api_key_authenticate(plaintext=token.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            # Written at most once a minute per key, so a busy ingest key does not turn every
            # request into a row update (the conditional UPDATE also avoids lost-update races).
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return (None, api_key)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword  # makes DRF answer 401 (not 403) when the key is missing


class HasApiKey(permissions.BasePermission):
    message = "An API key is required: send “Authorization: Bearer <api key>”."

    def has_permission(self, request: Request, view: object) -> bool:
        return isinstance(request.auth, ApiKey)


def scopes_required(*scopes: str) -> type[permissions.BasePermission]:
    """A permission that lets through keys of the given scopes only (403 otherwise)."""

    class ScopePermission(permissions.BasePermission):
        message = f"This API key's scope may not do this; it needs one of: {', '.join(scopes)}."

        def has_permission(self, request: Request, view: object) -> bool:
            return isinstance(request.auth, ApiKey) and request.auth.scope in scopes

    ScopePermission.__name__ = f"Scope_{'_'.join(scopes)}"
    return ScopePermission


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.api_auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from `manage.py create_api_key`.",
        }
