"""The lifecycle's cockpit routes, mounted in the "cockpit" namespace (/admin/customer-success/)."""

from django.urls import path

from . import views

cockpit = [
    path("reports/", views.monthly_report_page, name="reports"),
    path("reports/weekly/", views.weekly_dashboard, name="weekly"),
]
