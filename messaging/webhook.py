"""The one webhook sender: JSON POSTs to allow-listed hosts on public addresses."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from .errors import PermanentError, RetryableError, request_never_left


def webhook_hosts() -> list[str]:
    """The hosts webhooks may go to (PLAYBOOK_WEBHOOK_HOSTS), lower-case."""
    return [h.lower() for h in settings.PLAYBOOK_WEBHOOK_HOSTS]


Resolver = Callable[[str], list[str]]


def resolve_host(host: str) -> list[str]:
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)})
    except socket.gaierror as exc:
        raise RetryableError(f"Could not resolve {host}: {exc}") from exc


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_post(*, url: str, payload: dict[str, Any], session: Any = None, resolver: Resolver = resolve_host) -> str:
    """The one webhook sender (touchpoints and alert notifications): POSTs JSON only to an
    allow-listed host that resolves to public addresses (checked now, not only when the URL was
    saved: DNS can change)."""
    import requests

    host = (urlsplit(url).hostname or "").lower()
    if host not in webhook_hosts():
        raise PermanentError(f"Webhook host {host} is no longer on PLAYBOOK_WEBHOOK_HOSTS.")
    for address in resolver(host):
        if not ipaddress.ip_address(address).is_global:
            raise PermanentError(f"Webhook host {host} resolves to {address}, a private address: not sent.")
    session = session or requests.Session()
    try:
        response = session.post(
            url,
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
            timeout=settings.PLAYBOOK_WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.exceptions.RequestException as exc:
        if request_never_left(exc):
            raise RetryableError(f"Could not connect to {host}: {exc.__class__.__name__}") from exc
        raise  # the request may have reached the receiver (dropped answer, read timeout): unknown
    if response.status_code in (429, 503):
        raise RetryableError(f"{host} answered {response.status_code}: try later")
    if response.status_code >= 300:
        raise PermanentError(f"{host} answered {response.status_code}: {response.text[:200]}")
    return f"HTTP {response.status_code}"
