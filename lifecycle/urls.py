"""The lifecycle's routes: `cockpit`, mounted in the "cockpit" namespace (/admin/customer-success/),
and `public` at the root (the post-resolution survey link)."""

from django.urls import path

from . import advocacy_views, expansion_views, public_views, referral_views, views

cockpit = [
    path("reports/", views.monthly_report_page, name="reports"),
    path("reports/weekly/", views.weekly_dashboard, name="weekly"),
    path("reports/cohorts/", views.cohort_report, name="cohorts"),
    path("reports/nps/", views.nps_report, name="nps"),
    path("tenants/<str:external_id>/renewal/", views.renewal_pack_page, name="renewal-pack"),
    path("expansion/", expansion_views.expansion_list, name="expansion"),
    path("expansion/<int:opportunity_id>/move/", expansion_views.opportunity_move, name="opportunity-move"),
    path("advocacy/", advocacy_views.advocacy_list, name="advocacy"),
    path("advocacy/<str:external_id>/ask/", advocacy_views.advocacy_ask, name="advocacy-ask"),
    path("referrals/", referral_views.referral_list, name="referrals"),
    path("referrals/<int:reward_id>/apply/", referral_views.referral_reward_apply, name="referral-apply"),
]

public = [
    path("survey/csat/<str:token>/", public_views.csat_survey, name="csat-survey"),
]
