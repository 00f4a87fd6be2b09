"""The tenants app's routes, mounted by cs_cockpit/urls.py: `cockpit` under /admin/customer-success/
(namespace "cockpit"), `api_v1` under /api/v1/ (namespace "api")."""

from django.urls import path

from . import api, views

api_v1 = [
    path("tenants/<str:external_id>/", api.TenantDetailView.as_view(), name="tenant-detail"),
    path("tenants/<str:external_id>/timeline/", api.TenantTimelineView.as_view(), name="tenant-timeline"),
]

cockpit = [
    path("tenants/<str:external_id>/csm/", views.tenant_csm_assign, name="tenant-csm"),
    path("tenants/<str:external_id>/contract/", views.tenant_contract_end, name="tenant-contract"),
    path("tenants/<str:external_id>/notes/", views.tenant_notes, name="tenant-notes"),
    path("tenants/<str:external_id>/notes/add/", views.tenant_note_add, name="tenant-note-add"),
    path("tenants/<str:external_id>/notes/<int:note_id>/edit/", views.tenant_note_edit, name="tenant-note-edit"),
    path("tenants/<str:external_id>/notes/<int:note_id>/pin/", views.tenant_note_pin, name="tenant-note-pin"),
]
