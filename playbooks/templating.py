"""Message templates: `{{ variable }}` and nothing else — no tags, no attribute access, so a
playbook edited in the cockpit can neither run code nor reach data outside the vocabulary.

Templates are checked when a playbook is loaded or saved (unknown variables, broken braces),
never first at send time. They render at send time with the tenant's current facts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.urls import reverse

from billing.selectors import portal_url as billing_portal_url
from knowledge.selectors import article_link
from tenants.labels import humanize

from .conditions import EVENT_NAME_RE
from .facts import EventWindow, TenantFacts

VARIABLE_RE = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
EVENTS_PREFIX = "events_7."
ARTICLE_PREFIX = "article."

VARIABLES: dict[str, str] = {
    "brand_name": "Your product's name as owners know it (the BRAND_NAME setting)",
    "tenant_name": "The tenant's company name",
    "owner_name": "The owner's full name (or “there”)",
    "owner_first_name": "The owner's first name (or “there”)",
    "owner_email": "The owner's email",
    "plan": "The plan's name, e.g. Professional",
    "csm_name": "The tenant's CSM (or “your customer success team”)",
    "csm_email": "The CSM's email",
    "login_url": "Link to log in",
    "onboarding_url": "Link to the onboarding wizard",
    "survey_url": "Link to the NPS survey (0–10), recorded as an nps.submitted event",
    "portal_url": "Link to the Stripe customer portal (tenants with a Stripe customer)",
    "days_since_signup": "Whole days since signup",
    "onboarding_percent": "Onboarding progress in percent",
    "health_score": "The latest health score",
    "health_bucket": "healthy, at risk, critical, or new (warming up)",
    "usage_level": "high, medium or low",
    "active_days_7": "Days with usage in the last 7",
    "events_7": "Usage events in the last 7 days; events_7.NAME counts one event name, e.g. events_7.call.handled",
    "qa_review_url": "For the CS team: link to a new QA review with this tenant filled in",
    "article": "Link to a knowledge-base article: article.SLUG, e.g. article.update-payment-method",
}
SURVEY_SALT = "playbooks.nps-survey"
# How a variable reads where a template is shown without a tenant to render it for (the
# playbook's page): a placeholder a person understands, never “{{ tenant_name }}”.
VARIABLE_LABELS: dict[str, str] = {
    "brand_name": "product name",
    "tenant_name": "tenant name",
    "owner_name": "owner's name",
    "owner_first_name": "owner's first name",
    "owner_email": "owner's email",
    "plan": "plan",
    "csm_name": "CSM's name",
    "csm_email": "CSM's email",
    "login_url": "login link",
    "onboarding_url": "onboarding link",
    "survey_url": "NPS survey link",
    "qa_review_url": "QA review link",
    "portal_url": "billing portal link",
    "days_since_signup": "days since signup",
    "onboarding_percent": "onboarding %",
    "health_score": "health score",
    "health_bucket": "health bucket",
    "usage_level": "usage level",
    "active_days_7": "active days of the last 7",
    "events_7": "events in the last 7 days",
}


def _health_bucket(f: Any) -> str | None:
    bucket = f.get("health_bucket")
    if bucket == "new":
        return "new (warming up)"
    return bucket.replace("_", " ") if bucket else None


class TemplateError(ValueError):
    def __init__(self, message: str, *, line: int = 1, field: str = "") -> None:
        self.line, self.reason = line, f"{field}: {message}" if field else message
        super().__init__(f"{field}, line {line}: {message}" if field else message)


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def check(text: str, *, field: str) -> set[EventWindow]:
    """Raises TemplateError naming the line and the problem; returns the event windows the
    template reads (so the facts query can fetch them in the same pass)."""
    windows: set[EventWindow] = set()
    for token in ("{%", "%}", "{#"):
        if token in text:
            raise TemplateError(
                f"“{token}” — template tags are not supported; use {{{{ variable }}}} only.",
                line=_line_of(text, text.index(token)),
                field=field,
            )
    stripped = VARIABLE_RE.sub("", text)
    for token in ("{{", "}}"):
        if token in stripped:
            position = text.index(token) if token in text else 0
            raise TemplateError(
                f"unbalanced “{token}” — write {{{{ variable }}}}.", line=_line_of(text, position), field=field
            )
    for match in VARIABLE_RE.finditer(text):
        name = match.group(1)
        if name.startswith(EVENTS_PREFIX):
            event = name[len(EVENTS_PREFIX) :]
            if not EVENT_NAME_RE.match(event):
                raise TemplateError(f"“{event}” is not an event name.", line=_line_of(text, match.start()), field=field)
            windows.add(EventWindow(event, 7))
        elif name.startswith(ARTICLE_PREFIX):
            slug = name[len(ARTICLE_PREFIX) :]
            if article_link(slug=slug, for_customers=False) is None:
                raise TemplateError(
                    f"no knowledge-base article “{slug}”: write it first, or check the slug on its page.",
                    line=_line_of(text, match.start()),
                    field=field,
                )
        elif name not in VARIABLES or name == "article":
            raise TemplateError(
                f"unknown variable {{{{ {name} }}}}; known: {', '.join(VARIABLES)}, events_7.NAME, article.SLUG.",
                line=_line_of(text, match.start()),
                field=field,
            )
    return windows


def survey_token(tenant_id: int) -> str:
    return signing.dumps({"tenant": tenant_id}, salt=SURVEY_SALT)


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


@functools.cache
def route(name: str, token: bool = False) -> str:
    """A route's path, reversed once per process (reverse() is slow enough to matter when a
    batch renders thousands of links). With `token`, a path with TOKEN where the token goes."""
    return reverse(name, args=["TOKEN"]) if token else reverse(name)


def absolute_url(name: str, token: str = "") -> str:
    return _absolute(route(name, True).replace("TOKEN", token) if token else route(name))


def _csm_name(facts: TenantFacts) -> str:
    csm = facts.tenant.csm_owner
    return (csm.get_full_name() or csm.get_username()) if csm else "your customer success team"


def _health_score(facts: TenantFacts) -> int | None:
    score = facts.get("health_score")
    return round(score) if score is not None else None


# Each variable's value, computed only when a template uses it (a survey link is signed, a URL
# reversed: not for every message of a batch of thousands).
RESOLVERS: dict[str, Callable[[TenantFacts], Any]] = {
    "brand_name": lambda f: settings.BRAND_NAME,
    "tenant_name": lambda f: f.tenant.name,
    "owner_name": lambda f: f.tenant.owner_name or "there",
    "owner_first_name": lambda f: (f.tenant.owner_name or "").split(" ")[0] or "there",
    "owner_email": lambda f: f.tenant.owner_email,
    "plan": lambda f: f.tenant.get_plan_display(),
    "csm_name": _csm_name,
    "csm_email": lambda f: f.tenant.csm_owner.email if f.tenant.csm_owner else None,
    "login_url": lambda f: absolute_url("login"),
    "onboarding_url": lambda f: absolute_url("onboarding:wizard"),
    "survey_url": lambda f: absolute_url("nps-survey", survey_token(f.tenant.id)),
    "qa_review_url": lambda f: f"{absolute_url('qa:new')}?{urlencode({'tenant': f.tenant.external_id})}",
    "days_since_signup": lambda f: f.get("days_since_signup"),
    "onboarding_percent": lambda f: f.get("onboarding_percent"),
    "health_score": _health_score,
    "health_bucket": _health_bucket,
    "usage_level": lambda f: f.get("usage_level"),
    "active_days_7": lambda f: f.get("active_days_7"),
    "events_7": lambda f: f.get("events_7"),
}


def _portal_url(facts: TenantFacts) -> str | None:
    # A signed link to our own /billing/portal/<token>/, which opens a fresh Stripe session.
    return billing_portal_url(tenant=facts.tenant)


UNKNOWN_VALUE = "(not known yet)"


def render(text: str, facts: TenantFacts, *, strict: bool = True) -> str:
    """Renders a checked template. In a message to a customer (`strict`), a variable this
    tenant has no value for (no score yet, no Stripe customer for portal_url) raises TemplateError:
    better no message than a wrong one. Internal notes (tasks, webhooks) say “not known yet”."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith(EVENTS_PREFIX):
            return str(facts.get("event_count", event=name[len(EVENTS_PREFIX) :], days=7))
        if name.startswith(ARTICLE_PREFIX):
            slug = name[len(ARTICLE_PREFIX) :]
            # To a customer: only a published article meant for customers (an internal one
            # would be a 404 for them, a draft is not ready). A note for the team links any.
            link = article_link(slug=slug, for_customers=strict)
            if link is None and strict:
                raise TemplateError(f"{{{{ article.{slug} }}}} is not a published article for customers.")
            return _absolute(link) if link else UNKNOWN_VALUE
        if name == "portal_url":
            resolved = _portal_url(facts)
            if resolved is None and strict:
                raise TemplateError(f"{{{{ portal_url }}}} needs a Stripe customer, and {facts.tenant.name} has none.")
            return resolved or UNKNOWN_VALUE
        resolved = RESOLVERS[name](facts)
        if resolved is None:
            if not strict:
                return UNKNOWN_VALUE
            raise TemplateError(f"{{{{ {name} }}}} has no value for {facts.tenant.name} yet.")
        return str(resolved)

    return VARIABLE_RE.sub(value, text)


def variable_label(name: str) -> str:
    """“tenant_name” → “tenant name”; “events_7.call.handled” → “call handled, last 7 days”."""
    if name.startswith(ARTICLE_PREFIX):
        return f"link to “{humanize(name[len(ARTICLE_PREFIX) :])}”"
    if name.startswith(EVENTS_PREFIX):
        return f"{humanize(name[len(EVENTS_PREFIX) :]).lower()}, last 7 days"
    return VARIABLE_LABELS.get(name) or humanize(name).lower()


def split_for_display(text: str) -> list[tuple[str, str]]:
    """A template as (literal text, "") and (variable label, variable description) pieces, in
    order: what a page shows where there is no tenant to render it for."""
    pieces: list[tuple[str, str]] = []
    last = 0
    for match in VARIABLE_RE.finditer(text):
        name = match.group(1)
        if match.start() > last:
            pieces.append((text[last : match.start()], ""))
        if name.startswith("events_7"):
            # VARIABLES' own line for events_7 explains the syntax to the editor's author.
            description = "How many usage events the tenant sent in the last 7 days"
        elif name.startswith(ARTICLE_PREFIX):
            description = "A link to this knowledge-base article"
        else:
            description = VARIABLES[name]
        pieces.append((variable_label(name), description))
        last = match.end()
    if last < len(text):
        pieces.append((text[last:], ""))
    return pieces


def render_for_reading(text: str, facts: TenantFacts) -> str:
    """A template with this tenant's values as of now, for a person reading the cockpit (a
    touchpoint not sent yet, one skipped before it was rendered): what the tenant would get,
    with “(not known yet)” where it lacks a value. Never raises, never leaves braces."""
    return render(text, facts, strict=False)
