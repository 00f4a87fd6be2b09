"""The health app's routes. cs_cockpit/urls.py mounts them: `cockpit` under
/admin/customer-success/ (namespace "cockpit"), `api` under /api/v1/ (namespace "api")."""

from django.urls import path

from . import api, views

cockpit = [
    path("health/", views.health_models, name="health-models"),
    path("health/new/", views.health_model_new, name="health-model-new"),
    path("health/seeds/", views.health_models_from_seeds, name="health-model-seeds"),
    path("health/backtest/", views.health_backtest, name="health-backtest"),
    path("health/<int:version>/publish/", views.health_model_publish, name="health-model-publish"),
]

api_v1 = [
    path("events/", api.EventIngestView.as_view(), name="events"),
]
