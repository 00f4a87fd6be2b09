"""The QA workspace's routes, mounted by cs_cockpit/urls.py under /admin/qa/ (namespace "qa")."""

from django.urls import path

from . import views

staff = [
    path("", views.review_list, name="list"),
    path("new/", views.review_new, name="new"),
    path("<int:review_id>/", views.review_detail, name="detail"),
    path("<int:review_id>/items/", views.action_item_add, name="action-item-add"),
]
