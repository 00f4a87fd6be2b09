"""The lifecycle's cockpit routes, mounted in the "cockpit" namespace (/admin/customer-success/)."""

from django.urls import path

from . import expansion_views, views

cockpit = [
    path("reports/", views.monthly_report_page, name="reports"),
    path("reports/weekly/", views.weekly_dashboard, name="weekly"),
    path("expansion/", expansion_views.expansion_list, name="expansion"),
    path("expansion/<int:opportunity_id>/move/", expansion_views.opportunity_move, name="opportunity-move"),
]
