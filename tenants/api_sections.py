"""Parts of the tenant API document that other apps own (health, onboarding, subscription).

`tenants` cannot import those apps (imports point one way), so each registers its functions
here from its AppConfig.ready(). A section nobody registered is null in the API: the part of
the product that would fill it does not exist yet, and no number is invented.

Each section has a detail function (one tenant, full block) and a list function (a page of
tenants at once, summary blocks), so a list never runs a query per tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .models import Tenant

Block = dict[str, Any] | None
DetailFunction = Callable[[Tenant], Block]
ListFunction = Callable[[Sequence[Tenant]], dict[int, Block]]

SECTION_NAMES = ("health", "onboarding", "subscription")
_detail: dict[str, DetailFunction] = {}
_list: dict[str, ListFunction] = {}


def register(name: str, *, detail: DetailFunction, many: ListFunction) -> None:
    if name not in SECTION_NAMES:
        raise ValueError(f"Unknown tenant API section “{name}”.")
    _detail[name], _list[name] = detail, many


def section_detail(name: str, tenant: Tenant) -> Block:
    function = _detail.get(name)
    return function(tenant) if function else None


def sections_for_list(tenants: Sequence[Tenant]) -> dict[str, dict[int, Block]]:
    """Every section's summary for a page of tenants: {section: {tenant id: block}}."""
    return {name: function(tenants) for name, function in _list.items()}
