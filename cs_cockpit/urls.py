from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from alerts import urls as alerts_urls
from billing import urls as billing_urls
from health import urls as health_urls
from knowledge import urls as knowledge_urls
from lifecycle import urls as lifecycle_urls
from messaging import urls as messaging_urls
from onboarding import urls as onboarding_urls
from playbooks import urls as playbooks_urls
from qa import urls as qa_urls
from tenants import urls as tenants_urls

from . import api, billing_queue, churn, probes, views

# Each app keeps its routes in its urls.py; here they are mounted. The cockpit's pages share
# one namespace ("cockpit", /admin/customer-success/) and the API one ("api", /api/v1/), so
# the apps' lists are joined under them rather than each included with its own.
api_v1 = (
    [
        *onboarding_urls.api_v1,
        *tenants_urls.api_v1,
        *playbooks_urls.api_v1,
        *health_urls.api_v1,
        *alerts_urls.api_v1,
        path("status/", api.StatusView.as_view(), name="status"),
    ],
    "api",
)

# The past-due queue: billing ops (and admins) at /admin/billing/ by contract. It composes
# billing with playbooks' dunning, so it is the shell's.
billing_ops = (
    [
        path("", billing_queue.past_due_queue, name="queue"),
        path("revenue/", billing_queue.revenue, name="revenue"),
        path("subscriptions/<int:subscription_id>/<slug:action>/", billing_queue.queue_action, name="action"),
    ],
    "billing-ops",
)

# The shell's own cockpit pages compose every app's selectors (the tenant list and page).
cockpit = (
    [
        path("", views.overview, name="overview"),
        path("tenants/", views.tenant_list, name="tenant-list"),
        path("tenants/<str:external_id>/", views.tenant_detail, name="tenant-detail"),
        path("tenants/<str:external_id>/timeline/", views.tenant_timeline_page, name="tenant-timeline"),
        path("tenants/<str:external_id>/churn-reason/", churn.churn_reason_record, name="churn-reason"),
        path("status/", views.system_status, name="status"),
        *tenants_urls.cockpit,
        *onboarding_urls.cockpit_routes,
        *playbooks_urls.cockpit,
        *alerts_urls.cockpit,
        *health_urls.cockpit,
        *lifecycle_urls.cockpit,
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
    *onboarding_urls.public,
    path("onboarding/", include((onboarding_urls.owner, "onboarding"))),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("account/", views.account, name="account"),
    *playbooks_urls.public,
    *lifecycle_urls.public,
    *billing_urls.public,
    *messaging_urls.public,
    *knowledge_urls.public,
    path("billing/", include((billing_urls.owner, "billing"))),
    # The cockpit lives under /admin/ by contract, so it must come before Django admin's
    # catch-all pattern.
    path("admin/customer-success/", include(cockpit)),
    path("admin/billing/", include(billing_ops)),
    path("admin/knowledge/", include((knowledge_urls.staff, "knowledge"))),
    path("admin/qa/", include((qa_urls.staff, "qa"))),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
