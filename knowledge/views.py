"""The knowledge base in the cockpit (/admin/knowledge/): search and filters, an article with
its versions, the editor; and /help/<slug>/, where a signed-in customer reads the articles
meant for them. Views parse and render; services.py writes."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.access import staff_required
from core.http import form_errors_from
from core.paging import paged
from core.roles import Ability, may

from . import selectors, services
from .models import Article, Audience, Kind, Status

ARTICLES_PER_PAGE = 25


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=200, error_messages={"required": "Give the article a title."})
    slug = forms.CharField(
        max_length=80,
        help_text="Its address, e.g. refund-policy: customers open /help/refund-policy/; the article's page shows "
        "how to link it from a message.",
        error_messages={"required": "Give the article a slug, e.g. refund-policy."},
    )
    kind = forms.ChoiceField(choices=Kind.choices)
    audience = forms.ChoiceField(choices=Audience.choices, help_text="Only “Customers too” articles reach customers.")
    status = forms.ChoiceField(choices=Status.choices)
    tags = forms.CharField(required=False, max_length=500, help_text="Words separated by commas or spaces.")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18, "class": "code"}),
        strip=False,
        help_text="Markdown: **bold**, lists, tables, links. HTML is removed.",
        error_messages={"required": "Write the article: its body is empty."},
    )
    change_note = forms.CharField(required=False, max_length=300, label="What changed (for the version history)")


@staff_required()
@require_GET
def article_list(request: HttpRequest) -> HttpResponse:
    filters, notes = selectors.filters_from(request.GET)
    for note in notes:
        messages.warning(request, note)
    page = paged(selectors.articles_find(filters=filters), request.GET, per_page=ARTICLES_PER_PAGE)
    return render(
        request,
        "knowledge/list.html",
        {
            "paged": page,
            "articles": page.rows,
            "filters": filters,
            "kinds": Kind.choices,
            "statuses": Status.choices,
            "tags": selectors.tags_in_use(),
            "can_edit": may(request.user, Ability.EDIT_KNOWLEDGE),
        },
    )


@staff_required()
@require_GET
def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.article_get(slug=slug)
    return render(
        request,
        "knowledge/detail.html",
        {
            "article": article,
            "versions": selectors.article_versions(article=article)[:20],
            "can_edit": may(request.user, Ability.EDIT_KNOWLEDGE),
        },
    )


@staff_required()
@require_GET
def article_version(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    article = selectors.article_get(slug=slug)
    version = selectors.article_version_get(article=article, number=number)
    return render(request, "knowledge/version.html", {"article": article, "version": version})


def _save(request: HttpRequest, form: ArticleForm, article: Article | None) -> Article | None:
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        return services.article_save(
            article=article,
            slug=data["slug"],
            title=data["title"],
            kind=data["kind"],
            audience=data["audience"],
            status=data["status"],
            body=data["body"],
            tags=services.tags_from(data["tags"]),
            change_note=data["change_note"],
            actor=request.user,
            now=timezone.now(),
        )
    except ValidationError as exc:
        form_errors_from(form, exc)
        return None


@staff_required(Ability.EDIT_KNOWLEDGE)
@require_http_methods(["GET", "POST"])
def article_new(request: HttpRequest) -> HttpResponse:
    initial = {"kind": request.GET.get("kind", Kind.HOW_TO), "status": Status.DRAFT, "audience": Audience.INTERNAL}
    form = ArticleForm(request.POST or None, initial=initial)
    if request.method == "POST":
        article = _save(request, form, None)
        if article is not None:
            messages.success(request, f"“{article.title}” saved as version 1.")
            return redirect("knowledge:detail", slug=article.slug)
    status = 422 if form.errors else 200
    return render(request, "knowledge/edit.html", {"form": form, "article": None}, status=status)


@staff_required(Ability.EDIT_KNOWLEDGE)
@require_http_methods(["GET", "POST"])
def article_edit(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.article_get(slug=slug)
    initial = {
        "title": article.title,
        "slug": article.slug,
        "kind": article.kind,
        "audience": article.audience,
        "status": article.status,
        "tags": ", ".join(article.tags),
        "body": article.body,
    }
    form = ArticleForm(request.POST or None, initial=initial)
    if request.method == "POST":
        saved = _save(request, form, article)
        if saved is not None:
            if saved.version == article.version:
                messages.info(request, "Nothing changed: no new version.")
            else:
                messages.success(request, f"“{saved.title}” saved as version {saved.version}.")
            return redirect("knowledge:detail", slug=saved.slug)
    status = 422 if form.errors else 200
    return render(request, "knowledge/edit.html", {"form": form, "article": article}, status=status)


@login_required
@require_GET
def help_article(request: HttpRequest, slug: str) -> HttpResponse:
    """A customer-facing article for anyone signed in (owners from a message's link); drafts
    and internal articles are a 404, for staff too — this is the customers' view."""
    article = selectors.article_for_customers(slug=slug)
    if article is None:
        return render(request, "knowledge/help_missing.html", {"slug": slug}, status=404)
    return render(request, "knowledge/help.html", {"article": article})
