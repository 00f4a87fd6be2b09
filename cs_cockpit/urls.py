from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from alerts import api as alert_api
from alerts import views as alert_views
from billing import views as billing_views
from health import api as health_api
from health import views as health_views
from onboarding import api as onboarding_api
from onboarding import cockpit as onboarding_cockpit
from onboarding import views as onboarding_views
from playbooks import api as playbook_api
from playbooks import public_views as playbook_public
from playbooks import views as playbook_views
from tenants import api as tenant_api

from . import billing_queue, churn, probes, views

api_v1 = (
    [
        path("tenants/", onboarding_api.TenantListCreateView.as_view(), name="tenant-list"),
        path("tenants/<str:external_id>/", tenant_api.TenantDetailView.as_view(), name="tenant-detail"),
        path(
            "tenants/<str:external_id>/timeline/",
            tenant_api.TenantTimelineView.as_view(),
            name="tenant-timeline",
        ),
        path(
            "tenants/<str:external_id>/touchpoints/",
            playbook_api.TenantTouchpointsView.as_view(),
            name="tenant-touchpoints",
        ),
        path("events/", health_api.EventIngestView.as_view(), name="events"),
        path("alerts/", alert_api.AlertListView.as_view(), name="alert-list"),
    ],
    "api",
)

onboarding = (
    [
        path("", onboarding_views.wizard, name="wizard"),
        path("step/<slug:key>/", onboarding_views.step, name="step"),
        path("next/", onboarding_views.done, name="done"),
        path("verify/resend/", onboarding_views.resend_verification, name="resend-verification"),
        path("verify/<str:token>/", onboarding_views.verify, name="verify"),
        path("join/<str:token>/", onboarding_views.join, name="join"),
    ],
    "onboarding",
)

billing = (
    [
        path("", billing_views.billing_home, name="home"),
        path("checkout/", billing_views.billing_checkout, name="checkout"),
        path("manage/", billing_views.billing_manage, name="manage"),
        path("card/", billing_views.billing_card, name="card"),
    ],
    "billing",
)

# The past-due queue: billing ops (and admins) at /admin/billing/ by contract.
billing_ops = (
    [
        path("", billing_queue.past_due_queue, name="queue"),
        path("revenue/", billing_queue.revenue, name="revenue"),
        path("subscriptions/<int:subscription_id>/<slug:action>/", billing_queue.queue_action, name="action"),
    ],
    "billing-ops",
)

cockpit = (
    [
        path("", views.overview, name="overview"),
        path("tenants/", views.tenant_list, name="tenant-list"),
        path("tenants/<str:external_id>/", views.tenant_detail, name="tenant-detail"),
        path("tenants/<str:external_id>/churn-reason/", churn.churn_reason_record, name="churn-reason"),
        path(
            "tenants/<str:external_id>/milestones/<slug:key>/complete/",
            onboarding_cockpit.milestone_complete_for_tenant,
            name="milestone-complete",
        ),
        path("onboarding/", onboarding_cockpit.onboarding_overview, name="onboarding"),
        path(
            "onboarding/templates/<int:template_id>/",
            onboarding_cockpit.onboarding_template,
            name="onboarding-template",
        ),
        path("playbooks/", playbook_views.playbook_list, name="playbooks"),
        path("playbooks/<slug:slug>/", playbook_views.playbook_detail, name="playbook-detail"),
        path("playbooks/<slug:slug>/enabled/", playbook_views.playbook_toggle, name="playbook-toggle"),
        path("playbooks/<slug:slug>/edit/", playbook_views.playbook_edit, name="playbook-edit"),
        path("playbooks/<slug:slug>/preview/", playbook_views.playbook_preview, name="playbook-preview"),
        path("playbooks/<slug:slug>/simulate/", playbook_views.playbook_simulate, name="playbook-simulate"),
        path("playbooks/<slug:slug>/export/", playbook_views.playbook_export, name="playbook-export"),
        path("touchpoints/review/", playbook_views.review_queue, name="needs-review"),
        path("touchpoints/<int:delivery_id>/", playbook_views.delivery_detail, name="delivery-detail"),
        path("touchpoints/<int:delivery_id>/review/", playbook_views.delivery_review, name="delivery-review"),
        path("alerts/", alert_views.alert_queue, name="alerts"),
        path("alerts/export.csv", alert_views.alert_export, name="alert-export"),
        path("alerts/rules/", alert_views.alert_rules, name="alert-rules"),
        path("alerts/rules/<slug:slug>/", alert_views.alert_rule_edit, name="alert-rule-edit"),
        path("alerts/<int:alert_id>/<slug:action>/", alert_views.alert_action, name="alert-action"),
        path("tasks/", playbook_views.task_list, name="tasks"),
        path("tasks/<int:task_id>/complete/", playbook_views.task_complete, name="task-complete"),
        path(
            "tenants/<str:external_id>/touchpoints/pause/",
            playbook_views.tenant_touchpoints_pause,
            name="touchpoints-pause",
        ),
        path(
            "tenants/<str:external_id>/touchpoints/resume/",
            playbook_views.tenant_touchpoints_resume,
            name="touchpoints-resume",
        ),
        path("tenants/<str:external_id>/playbooks/start/", playbook_views.tenant_playbook_start, name="playbook-start"),
        path("tenants/<str:external_id>/sms-consent/", playbook_views.tenant_sms_consent, name="tenant-sms-consent"),
        path(
            "tenants/<str:external_id>/tasks/screenshare/",
            playbook_views.tenant_screenshare_task,
            name="screenshare-task",
        ),
        path("health/", health_views.health_models, name="health-models"),
        path("health/new/", health_views.health_model_new, name="health-model-new"),
        path("health/backtest/", health_views.health_backtest, name="health-backtest"),
        path("health/<int:version>/publish/", health_views.health_model_publish, name="health-model-publish"),
    ],
    "cockpit",
)

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="after-login"), name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("after-login/", views.after_login, name="after-login"),
    path("signup/", onboarding_views.signup, name="signup"),
    path("onboarding/", include(onboarding)),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("account/", views.account, name="account"),
    path("messages/<int:message_id>/dismiss/", playbook_public.in_app_dismiss, name="in-app-dismiss"),
    path("touchpoints/unsubscribe/<str:token>/", playbook_public.unsubscribe, name="unsubscribe"),
    path("survey/<str:token>/", playbook_public.nps_survey, name="nps-survey"),
    path("billing/portal/<str:token>/", billing_views.portal_for_tenant, name="billing-portal-for-tenant"),
    path("billing/", include(billing)),
    path("webhooks/stripe/", billing_views.stripe_webhook, name="stripe-webhook"),
    path("webhooks/twilio/status/", playbook_public.twilio_status, name="twilio-status"),
    path("webhooks/twilio/inbound/", playbook_public.twilio_inbound, name="twilio-inbound"),
    # The cockpit lives under /admin/ by contract, so it must come before Django admin's
    # catch-all pattern.
    path("admin/customer-success/", include(cockpit)),
    path("admin/billing/", include(billing_ops)),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
