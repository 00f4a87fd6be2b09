"""The billing app's owner and public routes. cs_cockpit/urls.py mounts `owner` under
/billing/ (namespace "billing") and `public` at the root. (Billing ops' past-due queue
composes billing with playbooks' dunning, so it lives in cs_cockpit.)"""

from django.urls import path

from . import views

owner = [
    path("", views.billing_home, name="home"),
    path("checkout/", views.billing_checkout, name="checkout"),
    path("manage/", views.billing_manage, name="manage"),
    path("card/", views.billing_card, name="card"),
]

public = [
    path("billing/portal/<str:token>/", views.portal_for_tenant, name="billing-portal-for-tenant"),
    path("webhooks/stripe/", views.stripe_webhook, name="stripe-webhook"),
]
