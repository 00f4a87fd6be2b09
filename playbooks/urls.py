"""The playbooks app's routes. cs_cockpit/urls.py mounts them: `cockpit` under
/admin/customer-success/ (namespace "cockpit"), `public` at the root (the owner's in-app
messages, surveys), `api` under /api/v1/ (namespace "api")."""

from django.urls import path

from . import api, public_views, views

cockpit = [
    path("playbooks/", views.playbook_list, name="playbooks"),
    path("playbooks/<slug:slug>/", views.playbook_detail, name="playbook-detail"),
    path("playbooks/<slug:slug>/enabled/", views.playbook_toggle, name="playbook-toggle"),
    path("playbooks/<slug:slug>/edit/", views.playbook_edit, name="playbook-edit"),
    path("playbooks/<slug:slug>/preview/", views.playbook_preview, name="playbook-preview"),
    path("playbooks/<slug:slug>/simulate/", views.playbook_simulate, name="playbook-simulate"),
    path("playbooks/<slug:slug>/export/", views.playbook_export, name="playbook-export"),
    path("touchpoints/", views.touchpoint_list, name="touchpoints"),
    path("touchpoints/review/", views.review_queue, name="needs-review"),
    path("touchpoints/<int:delivery_id>/", views.delivery_detail, name="delivery-detail"),
    path("touchpoints/<int:delivery_id>/review/", views.delivery_review, name="delivery-review"),
    path("tasks/", views.task_list, name="tasks"),
    path("tasks/complete/", views.task_bulk_complete, name="task-bulk-complete"),
    path("tasks/<int:task_id>/complete/", views.task_complete, name="task-complete"),
    path("tenants/<str:external_id>/touchpoints/pause/", views.tenant_touchpoints_pause, name="touchpoints-pause"),
    path("tenants/<str:external_id>/touchpoints/resume/", views.tenant_touchpoints_resume, name="touchpoints-resume"),
    path("tenants/<str:external_id>/playbooks/start/", views.tenant_playbook_start, name="playbook-start"),
    path("tenants/<str:external_id>/sms-consent/", views.tenant_sms_consent, name="tenant-sms-consent"),
    path("tenants/<str:external_id>/tasks/", views.tenant_task_create, name="tenant-task-create"),
    path("tenants/<str:external_id>/tasks/screenshare/", views.tenant_screenshare_task, name="screenshare-task"),
]

public = [
    path("messages/<int:message_id>/dismiss/", public_views.in_app_dismiss, name="in-app-dismiss"),
    path("survey/<str:token>/", public_views.nps_survey, name="nps-survey"),
]

api_v1 = [
    path("tenants/<str:external_id>/touchpoints/", api.TenantTouchpointsView.as_view(), name="tenant-touchpoints"),
]
