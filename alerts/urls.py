"""The alerts app's routes. cs_cockpit/urls.py mounts them: `cockpit` under
/admin/customer-success/ (namespace "cockpit"), `api` under /api/v1/ (namespace "api")."""

from django.urls import path

from . import api, views

cockpit = [
    path("alerts/", views.alert_queue, name="alerts"),
    path("alerts/export.csv", views.alert_export, name="alert-export"),
    path("alerts/bulk/", views.alert_bulk, name="alert-bulk"),
    path("alerts/rules/", views.alert_rules, name="alert-rules"),
    path("alerts/rules/<slug:slug>/", views.alert_rule_edit, name="alert-rule-edit"),
    path("alerts/<int:alert_id>/<slug:action>/", views.alert_action, name="alert-action"),
]

api_v1 = [
    path("alerts/", api.AlertListView.as_view(), name="alert-list"),
]
