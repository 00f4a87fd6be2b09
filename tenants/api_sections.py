"""Parts of the tenant API document that other apps own (health, onboarding, subscription).

`tenants` cannot import those apps (imports point one way), so each registers a function
here from its AppConfig.ready(). A section nobody registered is null in the API: the part of
the product that would fill it does not exist yet, and no number is invented.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .models import Tenant

# (tenant, detail) -> the section's JSON, or None. `detail` is False in lists, where a
# section must answer from denormalised fields without a query per tenant.
SectionFunction = Callable[[Tenant, bool], dict[str, Any] | None]

SECTION_NAMES = ("health", "onboarding", "subscription")
_sections: dict[str, SectionFunction] = {}


def register(name: str, function: SectionFunction) -> None:
    if name not in SECTION_NAMES:
        raise ValueError(f"Unknown tenant API section “{name}”.")
    _sections[name] = function


def section(name: str, tenant: Tenant, *, detail: bool) -> dict[str, Any] | None:
    function = _sections.get(name)
    return function(tenant, detail) if function else None
