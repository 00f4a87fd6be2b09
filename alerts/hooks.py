"""What apps above `alerts` add to its digests without alerts importing them (imports point
one way). playbooks registers the CSM's tasks due today from its AppConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

# called as f(user=..., until=...) -> {"tasks": [...]}: merged into the morning digest's context
DigestSection = Callable[..., dict[str, Any]]

_digest_sections: dict[str, DigestSection] = {}


def register_digest_section(name: str, function: DigestSection) -> None:
    _digest_sections[name] = function  # by name: a second ready() replaces, never doubles


def digest_sections(*, user: AbstractBaseUser, until: datetime) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for function in _digest_sections.values():
        context.update(function(user=user, until=until))
    return context
