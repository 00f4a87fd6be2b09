"""The tenants app's API routes, mounted by cs_cockpit/urls.py under /api/v1/ (namespace "api")."""

from django.urls import path

from . import api

api_v1 = [
    path("tenants/<str:external_id>/", api.TenantDetailView.as_view(), name="tenant-detail"),
    path("tenants/<str:external_id>/timeline/", api.TenantTimelineView.as_view(), name="tenant-timeline"),
]
