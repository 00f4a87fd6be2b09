"""The messaging app's public routes, mounted at the root by cs_cockpit/urls.py."""

from django.urls import path

from . import views

public = [
    path("touchpoints/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("webhooks/twilio/status/", views.twilio_status, name="twilio-status"),
    path("webhooks/twilio/inbound/", views.twilio_inbound, name="twilio-inbound"),
    path("webhooks/email/<slug:esp>/tracking/", views.email_tracking, name="email-tracking"),
]
