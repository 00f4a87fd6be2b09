"""Reads for the knowledge base: search (PostgreSQL full-text with ranking; a word-by-word
match elsewhere), one article, its versions, and what a customer may open."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import reverse

from .models import Article, ArticleVersion, Audience, Kind, Status


@dataclass(frozen=True)
class ArticleFilters:
    q: str = ""
    kind: str = ""
    tag: str = ""
    status: str = ""


def filters_from(params: dict) -> tuple[ArticleFilters, list[str]]:
    """Filters from the query string; an unknown value is dropped with a note that says so."""
    notes: list[str] = []
    kind, status, tag = params.get("kind", ""), params.get("status", ""), params.get("tag", "").strip().lower()
    if kind and kind not in Kind.values:
        notes.append(f"“{kind[:30]}” is not a kind of article: showing every kind.")
        kind = ""
    if status and status not in Status.values:
        notes.append(f"“{status[:30]}” is not a status: showing drafts and published.")
        status = ""
    q = params.get("q", "").replace("\x00", "").strip()[:200]
    return ArticleFilters(q=q, kind=kind, tag=tag[:40], status=status), notes


def _search(articles: QuerySet[Article], q: str) -> QuerySet[Article]:
    if connection.vendor == "postgresql":
        # Title words weigh more than body words; websearch syntax ("refund -annual", quotes)
        # is what people type into search boxes. At knowledge-base size (hundreds of
        # articles) the vector is computed per query; a GIN index is for when it is not.
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        vector = SearchVector("title", weight="A", config="english") + SearchVector(
            "body", weight="B", config="english"
        )
        query = SearchQuery(q, search_type="websearch", config="english")
        # Matched with @@ (ts_rank gives non-matching rows a tiny positive rank, so a rank
        # filter would keep everything), then ranked.
        matched = articles.annotate(document=vector).filter(document=query)
        return matched.annotate(rank=SearchRank(vector, query)).order_by("-rank", "title")
    # Elsewhere (SQLite in development): every word must appear in the title or the body.
    for word in q.split()[:10]:
        articles = articles.filter(Q(title__icontains=word) | Q(body__icontains=word))
    return articles.order_by("title")


def articles_find(*, filters: ArticleFilters) -> QuerySet[Article]:
    articles = Article.objects.all()
    if filters.kind:
        articles = articles.filter(kind=filters.kind)
    if filters.status:
        articles = articles.filter(status=filters.status)
    if filters.tag:
        articles = articles.filter(tag_text__contains=f",{filters.tag},")
    return _search(articles, filters.q) if filters.q else articles.order_by("title")


def article_get(*, slug: str) -> Article:
    article = Article.objects.filter(slug=slug).first()
    if article is None:
        raise Http404(f"No article “{slug[:80]}”.")
    return article


def article_version_get(*, article: Article, number: int) -> ArticleVersion:
    version = ArticleVersion.objects.filter(article=article, number=number).first()
    if version is None:
        raise Http404(f"{article.title} has no version {number}.")
    return version


def article_versions(*, article: Article) -> QuerySet[ArticleVersion]:
    return ArticleVersion.objects.filter(article=article).order_by("-number")


def article_for_customers(*, slug: str) -> Article | None:
    """A published article meant for customers, or None (a draft or an internal one is not)."""
    return Article.objects.filter(slug=slug, status=Status.PUBLISHED, audience=Audience.CUSTOMERS).first()


def tags_in_use() -> list[str]:
    return sorted({tag for tags in Article.objects.values_list("tags", flat=True) for tag in tags})


def article_link(*, slug: str, for_customers: bool) -> str | None:
    """The path a message links for `{{ article.<slug> }}`: the customers' /help/ page for a
    published article meant for them; with `for_customers` False (a note for the team), the
    staff page of any article. None when there is no such article (or none a customer may read)."""
    if for_customers:
        return reverse("help-article", args=[slug]) if article_for_customers(slug=slug) else None
    article = Article.objects.filter(slug=slug).only("slug", "audience", "status").first()
    if article is None:
        return None
    if article.audience == Audience.CUSTOMERS and article.status == Status.PUBLISHED:
        return reverse("help-article", args=[slug])
    return reverse("knowledge:detail", args=[slug])
