"""Server-side pages for every long list in the cockpit: a total, the rows of one page, and
the query string without `page` for the pager's links (filters stay in the URL)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import QueryDict

PER_PAGE = 50


@dataclass(frozen=True)
class Paged:
    page: Page
    query: str  # the request's query string without `page`
    note: str  # why the page shown is not the one asked for ("" when it is)

    @property
    def rows(self) -> list[Any]:
        return list(self.page.object_list)


def paged(items: QuerySet | Sequence, params: QueryDict, *, per_page: int = PER_PAGE) -> Paged:
    """The page `params["page"]` asks for. A page number that is not one, or past the end, is
    not an error page: the nearest page is shown with a note that says why."""
    paginator = Paginator(items, per_page)
    raw = params.get("page", "1").strip() or "1"
    note = ""
    try:
        number = int(raw)
    except ValueError:
        number, note = 1, f"“{raw[:20]}” is not a page number: showing page 1."
    if number < 1:
        number, note = 1, f"There is no page {number}: showing page 1."
    elif number > paginator.num_pages:
        note = f"There is no page {number}: showing page {paginator.num_pages}, the last."
        number = paginator.num_pages
    query = params.copy()
    query.pop("page", None)
    return Paged(page=paginator.page(number), query=query.urlencode(), note=note)
