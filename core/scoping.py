"""Tenant scope that fails closed.

A tenant-owned model subclasses `TenantOwnedModel`, which declares
`objects = TenantScopedManager()` first and `all_tenants = models.Manager()` second.
`Model.objects.for_tenant(tenant)` is the only way to read through `objects`;
`Model.objects.all()` / `.filter()` / `.get()` raise TenantScopeError instead of quietly
returning every tenant's rows. Cross-tenant reads (staff pages, scheduled jobs) say so by
using `Model.all_tenants`.

Django's own machinery (validation of unique fields, the admin, reverse relations, which
are already bound to one parent row) uses `Meta.default_manager_name` = "all_tenants", set
once on TenantOwnedModel.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class TenantScopeError(RuntimeError):
    """A tenant-owned model was queried without naming the tenant."""


class TenantScopedManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        raise TenantScopeError(
            f"{self.model.__name__}.objects needs a tenant: use "
            f"{self.model.__name__}.objects.for_tenant(tenant), or "
            f"{self.model.__name__}.all_tenants for an explicit cross-tenant query."
        )

    def for_tenant(self, tenant: models.Model | None) -> models.QuerySet:
        if tenant is None or getattr(tenant, "pk", None) is None:
            raise TenantScopeError(f"{self.model.__name__}.objects.for_tenant() needs a saved tenant.")
        return super().get_queryset().filter(tenant=tenant)

    def create(self, **kwargs: Any) -> models.Model:
        if kwargs.get("tenant") is None and kwargs.get("tenant_id") is None:
            raise TenantScopeError(f"{self.model.__name__} rows must belong to a tenant.")
        obj = self.model(**kwargs)
        obj.save(force_insert=True, using=self.db)
        return obj


class TenantOwnedModel(models.Model):
    """A row that belongs to one tenant. Subclasses declare their own `tenant` foreign key
    (its related_name is theirs) and get the fail-closed `objects` and the explicit
    `all_tenants`; a subclass with its own Meta writes `class Meta(TenantOwnedModel.Meta)`."""

    objects = TenantScopedManager()
    all_tenants = models.Manager()  # noqa: DJ012 (ruff sees only `objects` as a manager)

    class Meta:
        abstract = True
        # Django's own machinery (unique checks, the admin, related managers) reads every row.
        default_manager_name = "all_tenants"
