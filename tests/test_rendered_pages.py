"""Every page a person reads is rendered, human text: no `{{ variable }}` left in it, and no
slug, field name, event name or seed file name where a title or a label belongs.

Walks every cockpit and owner page (the URL patterns, with the route matrix saying who may
see what) over a populated database — the demo's tenants, with runs, scheduled and skipped
touchpoints, alerts, tasks, onboarding checklists with what the owners entered, subscriptions
— as a CS lead who is also an admin, a CSM, billing ops and each tenant's owner."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from alerts.models import AlertRule
from core.roles import StaffRole
from cs_cockpit.demo_data import seed_demo
from health.models import DailyRollup
from knowledge.models import Article
from lifecycle.csat import csat_token
from messaging.receipts import unsubscribe_token
from onboarding.models import Milestone, MilestoneProgress, OnboardingTemplate, TenantOnboarding
from playbooks.facts import FACTS
from playbooks.models import Delivery, Playbook, PlaybookVersion, Step, Task
from playbooks.templating import survey_token
from qa.models import Review
from tenants.models import Membership, Tenant, TimelineEntry

from .factories import UserFactory
from .test_route_matrix import MATRIX, all_route_names

# Where a person reads source, not prose: the YAML editor (a CS lead edits the templates
# there), code samples and identifiers set in <code>. Everything else is checked.
SOURCE_TAGS = {"textarea", "code", "script", "style"}
# Attributes a person reads (tooltips, placeholders, screen readers).
VISIBLE_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}
SNAKE_CASE = re.compile(r"(?<![\w./@-])[A-Za-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@])")
URL_OR_EMAIL = re.compile(r"https?://\S+|\S+@\S+")
# Stripe's own ids (cus_…, sub_…, in_…): billing ops look them up in Stripe's dashboard.
STRIPE_ID = re.compile(r"\b(?:cus|sub|in|pi|ch|evt|price|prod|cs|pm|re|si)_[\w-]+")
# A playbook condition quoted in a skip reason or a dry run ("usage_level == high (it is low)")
# is the playbook's own text, in the condition language staff write.
CONDITION = re.compile(
    rf"\b(?:{'|'.join(re.escape(f) for f in FACTS)})(?:\([^)]*\))?"
    r"\s*(?:==|!=|<=|>=|<|>|not in|in)\s*[\w.\[\], -]+(?:\(it is [^)]*\))?"
    r"|\(it is \w+\)"
)


class VisibleText(HTMLParser):
    """The text a person sees, with what sits inside <code>, <textarea> … left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SOURCE_TAGS:
            self.depth += 1
        elif not self.depth:
            self.parts += [value for name, value in attrs if name in VISIBLE_ATTRIBUTES and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in SOURCE_TAGS and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    text = URL_OR_EMAIL.sub(" ", " ".join(parser.parts))
    return CONDITION.sub(" ", STRIPE_ID.sub(" ", text))


def without_editor_source(html: str) -> str:
    # Where `{{ }}` belongs: the YAML in the editor's textarea, and the read-only snippet a
    # person copies into a template (the knowledge article's "how to link it").
    html = re.sub(r"<textarea\b.*?</textarea>", "", html, flags=re.S)
    return re.sub(r'<input id="link-snippet"[^>]*>', "", html)


def event_names() -> set[str]:
    """The product's event names: staff read them as the data's own vocabulary (a rule's
    parameter, a milestone that waits for one); an owner never does."""
    names = set(DailyRollup.all_tenants.values_list("name", flat=True))
    names |= set(Milestone.objects.exclude(event_name__in=["", "*"]).values_list("event_name", flat=True))
    return names


def known_slugs() -> set[str]:
    """Machine names a person must never read as a title or a label: playbook slugs, step keys,
    rule slugs, timeline kinds, milestone keys and steps, what-the-owner-entered keys and the
    files playbooks were loaded from. One plain word ("welcome") could be prose, so only names
    with a separator or a file extension count."""
    names: set[str] = set()
    names |= set(Playbook.objects.values_list("slug", flat=True))
    # A step key that is also a word of a playbook's own description ("a billing-ops task")
    # is the author's prose there.
    prose = " ".join(PlaybookVersion.objects.values_list("description", flat=True))
    names |= {k for k in Step.objects.values_list("key", flat=True) if k not in prose}
    names |= set(AlertRule.objects.values_list("slug", flat=True))
    names |= set(TimelineEntry.all_tenants.values_list("kind", flat=True))
    names |= set(Milestone.objects.values_list("key", flat=True))
    names |= set(PlaybookVersion.objects.values_list("source", flat=True))
    for data in MilestoneProgress.all_tenants.values_list("data", flat=True):
        names |= set(data or {})
    return {n for n in names if n and re.search(r"[._-]", n)}


def _excerpt(text: str, start: int, end: int) -> str:
    return " ".join(text[max(0, start - 60) : end + 60].split())


def problems_in(html: str, slugs: Iterable[str]) -> list[str]:
    found = []
    source = without_editor_source(html)
    for token in ("{{", "}}"):
        if token in source:
            at = source.index(token)
            found.append(f"raw template {token!r}: …{_excerpt(source, at, at)}…")
    text = visible_text(html)
    for match in SNAKE_CASE.finditer(text):
        found.append(f"field-like name {match.group()!r}: …{_excerpt(text, match.start(), match.end())}…")
    for slug in slugs:
        match = re.search(rf"(?<![\w.-]){re.escape(slug)}(?![\w-]|\.\w)", text, flags=re.IGNORECASE)
        if match:
            found.append(f"slug {slug!r}: …{_excerpt(text, match.start(), match.end())}…")
    return found


# --- the pages --------------------------------------------------------------------------------

PAGE_KINDS = {"staff", "owner", "login"}
# Signed links an owner opens from a message: a page each, reached with a real token.
OWNER_LINKS = {"unsubscribe", "nps-survey"}
DELIVERIES_PER_STATUS_AND_PLAYBOOK = 2


def _deliveries() -> list[dict]:
    seen: dict[tuple, int] = {}
    picked = []
    for d in Delivery.all_tenants.order_by("id").values("id", "status", "run__playbook_id", "step__channel"):
        key = (d["status"], d["run__playbook_id"], d["step__channel"])
        if seen.get(key, 0) < DELIVERIES_PER_STATUS_AND_PLAYBOOK:
            seen[key] = seen.get(key, 0) + 1
            picked.append({"delivery_id": d["id"]})
    return picked


STAFF_KWARGS: dict[str, Callable[[], list[dict]]] = {
    "cockpit:tenant-detail": lambda: [{"external_id": e} for e in Tenant.objects.values_list("external_id", flat=True)],
    "cockpit:onboarding-template": lambda: [
        {"template_id": i} for i in OnboardingTemplate.objects.values_list("id", flat=True)
    ],
    "cockpit:playbook-detail": lambda: [{"slug": s} for s in Playbook.objects.values_list("slug", flat=True)],
    "cockpit:playbook-edit": lambda: [{"slug": s} for s in Playbook.objects.values_list("slug", flat=True)],
    "cockpit:playbook-simulate": lambda: [{"slug": s} for s in Playbook.objects.values_list("slug", flat=True)],
    "cockpit:delivery-detail": _deliveries,
    "cockpit:alert-rule-edit": lambda: [{"slug": s} for s in AlertRule.objects.values_list("slug", flat=True)],
    "cockpit:playbook-export": lambda: [],  # a YAML download: the source, like the editor
    "cockpit:tenant-notes": lambda: [
        {"external_id": e} for e in Tenant.objects.values_list("external_id", flat=True)[:3]
    ],
    "cockpit:tenant-timeline": lambda: [
        {"external_id": e} for e in Tenant.objects.values_list("external_id", flat=True)[:3]
    ],
    "cockpit:tenant-note-edit": lambda: [],  # the demo has no notes; tests/test_notes.py renders it
    "knowledge:detail": lambda: [{"slug": s} for s in Article.objects.values_list("slug", flat=True)],
    "knowledge:edit": lambda: [{"slug": s} for s in Article.objects.values_list("slug", flat=True)[:2]],
    "knowledge:version": lambda: [{"slug": s, "number": 1} for s in Article.objects.values_list("slug", flat=True)[:2]],
    "help-article": lambda: [{"slug": s} for s in Article.objects.values_list("slug", flat=True)],
    "qa:detail": lambda: [{"review_id": i} for i in Review.all_tenants.values_list("id", flat=True)[:3]],
    "cockpit:renewal-pack": lambda: [
        {"external_id": e} for e in Tenant.objects.values_list("external_id", flat=True)[:3]
    ],
}
# What an owner opens from a message: the help articles (internal ones are their 404).
OWNER_KWARGS: dict[str, Callable[[], list[dict]]] = {"help-article": STAFF_KWARGS["help-article"]}
STAFF_QUERIES: dict[str, list[str]] = {
    "cockpit:tasks": ["", "?scope=queue", "?scope=all"],
    "cockpit:touchpoints": ["", "?outcome=failed&day=7d", "?outcome=scheduled&day=any"],
    "cockpit:alerts": ["", "?status=all"],
    "cockpit:expansion": ["", "?stage=all"],
    "cockpit:referrals": ["", "?status=all"],
    "cockpit:cohorts": ["", "?by=plan", "?by=segment", "?by=path"],
}


def owner_pages(tenant: Tenant) -> list[str]:
    template_id = TenantOnboarding.objects.for_tenant(tenant).values_list("template_id", flat=True).first()
    milestones = Milestone.objects.filter(template_id=template_id).exclude(step="")
    urls = [reverse("onboarding:step", kwargs={"key": m.key}) for m in milestones]
    urls += [
        reverse("unsubscribe", kwargs={"token": unsubscribe_token(email=tenant.owner_email, tenant_id=tenant.id)}),
        reverse("nps-survey", kwargs={"token": survey_token(tenant.id)}),
        reverse("csat-survey", kwargs={"token": csat_token(tenant_id=tenant.id, ticket_id="T-1")}),
    ]
    return urls


def page_urls(kinds: set[str], fillers: dict[str, Callable[[], list[dict]]]) -> list[str]:
    urls = []
    for name in all_route_names():
        route = MATRIX.get(name)
        if route is None or route.method != "get" or route.kind not in kinds:
            continue
        if name in fillers:
            urls += [reverse(name, kwargs=kwargs) for kwargs in fillers[name]()]
        elif not route.kwargs():
            urls += [reverse(name) + query for query in STAFF_QUERIES.get(name, [""])]
        elif route.kind != "owner":
            raise AssertionError(f"{name} takes arguments: say in STAFF_KWARGS which real ones to render it with.")
    return urls


@pytest.fixture
def populated(db) -> None:
    seed_demo(tenants=14, days=40, now=timezone.now(), seed=7)


def _check(client: Client, urls: Iterable[str], slugs: set[str], problems: list[str], *, who: str) -> int:
    pages = 0
    for url in urls:
        response = client.get(url)
        if response.status_code in (301, 302, 403, 404):
            continue  # not this persona's page (the route matrix checks who gets what)
        assert response.status_code in (200, 400), (who, url, response.status_code)
        if not response["Content-Type"].startswith("text/html"):
            continue
        pages += 1
        problems += [f"{who} {url}: {p}" for p in problems_in(response.content.decode(), slugs)]
    return pages


@pytest.mark.django_db
def test_no_page_shows_raw_templates_or_machine_names(populated):
    slugs = known_slugs()
    owner_slugs = slugs | event_names()
    assert {"onboarding-30", "tenant.created", "calendar_address"} <= slugs and "call.handled" in owner_slugs
    assert Delivery.all_tenants.filter(status=Delivery.Status.SCHEDULED).exists()
    assert Task.all_tenants.filter(status=Task.Status.OPEN).exists()
    assert MilestoneProgress.all_tenants.exclude(data={}).exists()
    assert Review.all_tenants.exists()

    staff = {
        "cs lead + admin": UserFactory(
            username="lead-admin", is_staff=True, roles=[StaffRole.CS_LEAD, StaffRole.ADMIN]
        ),
        "csm": UserFactory(username="maria.gomez", roles=[StaffRole.CSM]),  # the demo's CSM, with a portfolio
        "billing ops": UserFactory(username="jordan.billing", roles=[StaffRole.BILLING_OPS]),
    }
    problems: list[str] = []
    pages = 0
    for who, user in staff.items():
        client = Client()
        client.force_login(user)
        pages += _check(client, page_urls({"staff", "login"}, STAFF_KWARGS), slugs, problems, who=who)
        # The editor's preview: every step of every playbook, rendered for a real tenant.
        tenant = Tenant.objects.order_by("id").first()
        for playbook in Playbook.objects.select_related("current"):
            from playbooks.definitions import to_yaml

            response = client.post(
                reverse("cockpit:playbook-preview", kwargs={"slug": playbook.slug}),
                {"definition": to_yaml(playbook.current.definition), "tenant": tenant.id},
            )
            if response.status_code == 200:
                pages += 1
                problems += [
                    f"{who} preview {playbook.slug}: {p}" for p in problems_in(response.content.decode(), slugs)
                ]

    for membership in Membership.all_tenants.filter(role=Membership.Role.OWNER).select_related("tenant", "user"):
        client = Client()
        client.force_login(membership.user)
        who = f"owner of {membership.tenant.external_id}"
        urls = page_urls({"owner", "login"}, OWNER_KWARGS) + owner_pages(membership.tenant)
        pages += _check(client, urls, owner_slugs, problems, who=who)

    assert pages > 100, pages  # the walk reached the pages it means to check
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_the_check_catches_what_it_is_for():
    slugs = {"onboarding-30", "call.handled", "calendar_address"}
    assert problems_in("<p>Welcome, {{ owner_first_name }}</p>", slugs)
    assert problems_in("<p>onboarding-30 · Day 3</p>", slugs)
    assert problems_in("<dt>Calendar_address</dt>", slugs)
    assert problems_in("<p>first <b>call.handled</b> event</p>", slugs)
    assert not problems_in("<p>Onboarding, 30 days <code>onboarding-30</code></p>", slugs)
    assert not problems_in("<textarea>subject: {{ tenant_name }}</textarea><p>owner@call.handled.io</p>", slugs)


# --- what a person reads in place of the template ---------------------------------------------


@pytest.fixture
def harbor_day_1(alert_playbooks_off):
    """Harbor HVAC (owner Dana) one day after signup: Day 0 sent, Day 3 onwards scheduled."""
    from .touchpoint_helpers import SIGNUP, hourly, new_york_tenant, tick_at

    tenant = new_york_tenant()
    for moment in hourly(SIGNUP, 24):
        tick_at(moment)
    return tenant


@pytest.mark.django_db
def test_a_scheduled_touchpoint_reads_with_the_tenants_values(client, csm, harbor_day_1):
    client.force_login(csm)
    day_30 = Delivery.all_tenants.get(tenant=harbor_day_1, step__key="value-review", status=Delivery.Status.SCHEDULED)

    tenant_page = client.get(reverse("cockpit:tenant-detail", args=[harbor_day_1.external_id])).content.decode()
    why_page = client.get(reverse("cockpit:delivery-detail", args=[day_30.id])).content.decode()

    assert "30 days of CloudGreet at Harbor HVAC" in tenant_page
    assert "30 days of CloudGreet at Harbor HVAC" in why_page and "What it would say today" in why_page
    assert "Hi Dana" in why_page  # the body, rendered for her
    assert "Onboarding, days 0–30 · Day 30" in tenant_page  # the playbook's name, not onboarding-30
    assert "{{" not in tenant_page + why_page


@pytest.mark.django_db
def test_the_playbook_page_shows_variables_as_named_placeholders(client, csm):
    client.force_login(csm)
    page = client.get(reverse("cockpit:playbook-detail", args=["onboarding-30"])).content.decode()

    assert '<span class="var" title="The owner&#x27;s first name (or “there”)">owner&#x27;s first name</span>' in page
    assert "Welcome SMS" in page  # the step, named; its key is welcome-sms
    assert "{{" not in page


@pytest.mark.django_db
def test_the_owner_reads_what_they_entered_under_the_forms_labels(client, tenant_b, owner_b):
    from onboarding.services import milestone_complete

    milestone = Milestone.objects.get(template__slug="voice-receptionist", key="connect_calendar")
    milestone_complete(
        tenant=tenant_b,
        milestone=milestone,
        source=MilestoneProgress.Source.WIZARD,
        now=timezone.now(),
        data={"provider": "google", "calendar_address": "bookings@globex.example"},
    )
    client.force_login(owner_b)
    page = client.get(reverse("onboarding:step", args=["connect_calendar"])).content.decode()

    assert "<dt>Calendar address</dt><dd>bookings@globex.example</dd>" in page
    assert "<dt>Provider</dt><dd>Google Calendar</dd>" in page


@pytest.mark.django_db
def test_owners_see_the_brand_and_staff_see_cs_cockpit(client, settings, owner_a, csm):
    settings.BRAND_NAME = "Acme Voice"
    client.force_login(owner_a)
    owner_page = client.get(reverse("billing:home")).content.decode()
    assert '<a class="brand" href="/">Acme Voice</a>' in owner_page and "CS Cockpit" not in owner_page

    client.force_login(csm)
    staff_page = client.get(reverse("cockpit:tenant-list")).content.decode()
    assert '<a class="brand" href="/">CS Cockpit</a>' in staff_page and "Acme Voice" not in staff_page
    assert "csm · CSM" in staff_page  # the role's name beside the user name


@pytest.mark.django_db
def test_the_verification_email_names_the_brand(settings, owner_a, tenant_a, django_capture_on_commit_callbacks):
    from django.core import mail
    from django.utils import timezone

    from onboarding.services import verification_email_send

    settings.BRAND_NAME = "Acme Voice"
    with django_capture_on_commit_callbacks(execute=True):  # the outbox sends when this commits
        verification_email_send(
            user=owner_a, tenant=tenant_a, verify_url="https://x.example/verify/", now=timezone.now()
        )
    assert mail.outbox[-1].subject == "Verify your email for Acme Voice"
