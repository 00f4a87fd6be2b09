"""The knowledge base's routes: `staff` under /admin/knowledge/ (namespace "knowledge"),
`public` at the root (the customers' /help/<slug>/)."""

from django.urls import path

from . import views

staff = [
    path("", views.article_list, name="list"),
    path("new/", views.article_new, name="new"),
    path("<slug:slug>/", views.article_detail, name="detail"),
    path("<slug:slug>/edit/", views.article_edit, name="edit"),
    path("<slug:slug>/versions/<int:number>/", views.article_version, name="version"),
]

public = [
    path("help/<slug:slug>/", views.help_article, name="help-article"),
]
