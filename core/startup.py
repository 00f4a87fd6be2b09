"""Checks a production process makes before it starts serving."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def refuse_unsafe_start(process: str) -> None:
    """With DEBUG off, a process that serves requests or sends messages (signed links in them)
    must not run on a missing or publicly known SECRET_KEY."""
    if settings.SECRET_KEY_UNSAFE and not settings.DEBUG and not settings.TESTING:
        raise ImproperlyConfigured(
            f"Refusing to start {process}: SECRET_KEY is missing or is the development default. Set "
            "SECRET_KEY to a long random value (python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=1 for local development."
        )
