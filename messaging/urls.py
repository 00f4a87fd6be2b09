"""The messaging app's public routes, mounted at the root by cs_cockpit/urls.py."""

from django.urls import path

from . import views

public = [
    path("webhooks/email/<slug:esp>/tracking/", views.email_tracking, name="email-tracking"),
]
