"""The onboarding app's routes. cs_cockpit/urls.py mounts them: `owner` under /onboarding/
(namespace "onboarding"), `public` at the root, `cockpit` under /admin/customer-success/
(namespace "cockpit"), `api` under /api/v1/ (namespace "api")."""

from django.urls import path

from . import api, cockpit, views

owner = [
    path("", views.wizard, name="wizard"),
    path("step/<slug:key>/", views.step, name="step"),
    path("next/", views.done, name="done"),
    path("verify/resend/", views.resend_verification, name="resend-verification"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("join/<str:token>/", views.join, name="join"),
]

public = [
    path("signup/", views.signup, name="signup"),
]

cockpit_routes = [
    path(
        "tenants/<str:external_id>/milestones/<slug:key>/complete/",
        cockpit.milestone_complete_for_tenant,
        name="milestone-complete",
    ),
    path("onboarding/", cockpit.onboarding_overview, name="onboarding"),
    path("onboarding/templates/<int:template_id>/", cockpit.onboarding_template, name="onboarding-template"),
]

api_v1 = [
    path("tenants/", api.TenantListCreateView.as_view(), name="tenant-list"),
]
