"""Numbers agree (issue 13, point 6): the onboarding funnel, time to first value, the billing
counts, the weekly alert CSV and a subscription's status, each against a hand-built portfolio
whose expected figures are worked out by hand in the comments; then a sweep that follows every
count on the cockpit pages that links to a list and counts that list's rows."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import time_machine

from alerts.models import Alert, AlertRule
from alerts.services import alert_acknowledge, alert_assign
from core.ticks import run_tick
from onboarding.models import Milestone, MilestoneProgress, OnboardingTemplate, TenantOnboarding
from onboarding.selectors import funnel_for
from onboarding.services import milestone_complete, milestones_complete_from_events
from playbooks.models import Delivery
from tenants.models import Tenant

from .alert_helpers import NOW, ingest, tenant_at
from .billing_helpers import StripeStory, stripe_settings

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def stripe(settings):
    stripe_settings(settings)


@pytest.fixture
def at_now():
    # NOW is Wednesday 18 Nov 2026, 15:00 UTC (ISO week 2026-W47).
    with time_machine.travel(NOW, tick=False):
        yield NOW


def _utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return NOW.replace(month=month, day=day, hour=hour, minute=minute)


# --- 1. the onboarding funnel ----------------------------------------------------------------


def _complete(tenant: Tenant, key: str, at: datetime) -> None:
    onboarding = TenantOnboarding.objects.for_tenant(tenant).get()
    milestone = Milestone.objects.get(template_id=onboarding.template_id, key=key)
    source = {"wizard": "wizard", "event": "event", "staff": "wizard"}[milestone.completion]
    assert milestone_complete(tenant=tenant, milestone=milestone, source=source, now=NOW, at=at)


def test_a_later_funnel_step_never_exceeds_an_earlier_one_even_out_of_order(client, csm, at_now):
    # Generic SaaS: verify_email, invite_teammate (optional), connect_integration,
    # send_first_event, first_value. Six tenants, two of them out of order:
    #   t1  verify, connect, first event, first value     (in order, all of it)
    #   t2  verify, connect, first event
    #   t3  verify, invite (optional)
    #   t4  first event, connect                          (never verified)
    #   t5  verify, first event, first value              (skipped connect)
    #   t6  nothing
    done = {
        "t1": ["verify_email", "connect_integration", "send_first_event", "first_value"],
        "t2": ["verify_email", "connect_integration", "send_first_event"],
        "t3": ["verify_email", "invite_teammate"],
        "t4": ["send_first_event", "connect_integration"],
        "t5": ["verify_email", "send_first_event", "first_value"],
        "t6": [],
    }
    for external_id, keys in done.items():
        tenant = tenant_at(external_id, signed_up_at=NOW - 10 * DAY)
        for hours, key in enumerate(keys, start=1):
            _complete(tenant, key, NOW - 10 * DAY + timedelta(hours=hours))
    template = OnboardingTemplate.objects.get(slug="generic-saas", is_current=True)

    funnel = funnel_for(template=template)

    # A step counts tenants that did it AND every required step above it:
    #   verify         {t1,t2,t3,t5}        → 4, dropped 6-4 = 2, out of order 0
    #   connect        {t1,t2,t3,t5}∩{t1,t2,t4} = {t1,t2} → 2, dropped 2, out of order {t4} = 1
    #   first event    {t1,t2}∩{t1,t2,t4,t5} = {t1,t2}    → 2, dropped 0, out of order {t4,t5} = 2
    #   first value    {t1,t2}∩{t1,t5} = {t1}             → 1, dropped 1, out of order {t5} = 1
    # (Counting each milestone alone gave 4, 3, 4, 2: a later step above an earlier one.)
    assert funnel.started == 6
    assert [(s.milestone.key, s.reached, s.drop_off, s.out_of_order) for s in funnel.steps] == [
        ("verify_email", 4, 2, 0),
        ("connect_integration", 2, 2, 1),
        ("send_first_event", 2, 0, 2),
        ("first_value", 1, 1, 1),
    ]
    reached = [s.reached for s in funnel.steps]
    assert reached == sorted(reached, reverse=True)
    # The optional invite is not a step that gates the rest: t3 alone did it.
    assert [(o.milestone.key, o.completed) for o in funnel.optional] == [("invite_teammate", 1)]

    client.force_login(csm)
    page = client.get(f"/admin/customer-success/onboarding/?template={template.pk}").content.decode()
    assert "and every step above it" in page  # the rule is said on the page
    rows = re.findall(r"<td>(\d+) · (\d+) %", page.split('class="funnel"')[1].split("</table>")[0])
    # 4/6 = 67 %, 2/6 = 33 %, 2/6 = 33 %, 1/6 = 17 %.
    assert rows == [("4", "67"), ("2", "33"), ("2", "33"), ("1", "17")]
    assert "+2 out of order" in page

    # The home draws the same funnel for the onboarding tenants of the book (here: everyone's),
    # each step a link to the tenant list's "reached" filter, which lists exactly those tenants.
    home = client.get("/admin/customer-success/?scope=all").content.decode()
    chart = home.split('class="funnel-chart"')[1].split("</figure>")[0]
    assert f"The funnel of the 6 onboarding tenants on the “{template.name}” checklist" in chart
    links = re.findall(r'<a href="([^"]+)">(\d+)</a> <span class="muted">\((\d+) %\)', chart)
    assert [(n, pct) for _, n, pct in links] == [("4", "67"), ("2", "33"), ("2", "33"), ("1", "17")]
    connect_list = client.get(links[1][0].replace("&amp;", "&")).content.decode()
    assert sorted(re.findall(r"/tenants/(t\d)/", connect_list)) == ["t1", "t2"]
    assert "2 tenants" in connect_list and "selected>2. " in connect_list
    bad = client.get("/admin/customer-success/tenants/?reached=abc", follow=True).content.decode()
    assert "is not a step of the onboarding funnel; it was ignored" in bad and "6 tenants" in bad


# --- 2. time to first value ------------------------------------------------------------------


def test_time_to_first_value_is_never_negative_nor_zero_for_a_tenant_that_has_not_reached_it(client, csm, at_now):
    # Voice receptionist (segment Dental clinics): first value is the first call.handled event.
    def clinic(external_id: str, signed_up_at: datetime) -> Tenant:
        return tenant_at(external_id, signed_up_at=signed_up_at, segment="Dental clinics")

    a = clinic("a", _utc(11, 2, 10))  # Mon 2 Nov (W45): first call 4 Nov 10:00 → 2.0 days
    clinic("c", _utc(11, 3, 10))  # W45: no call yet
    d = clinic("d", _utc(11, 9, 10))  # Mon 9 Nov (W46), imported: its backend replays a call of
    #                                   6 Nov 10:00, 3 days before signup → clamped to 0.0 days
    g = clinic("g", _utc(11, 10, 12))  # W46: first call 13 Nov 12:00 → 3.0 days
    clinic("e", _utc(11, 11, 9))  # W46: no call
    clinic("f", _utc(11, 16, 9))  # W47: no call
    ingest(a, "call.handled", _utc(11, 4, 10), now=NOW)
    ingest(d, "call.handled", _utc(11, 6, 10), now=NOW)
    ingest(g, "call.handled", _utc(11, 13, 12), now=NOW)
    milestones_complete_from_events(now=NOW)
    template = OnboardingTemplate.objects.get(slug="voice-receptionist", is_current=True)

    funnel = funnel_for(template=template)

    # Median over the 3 that reached it only: [2.0, 0.0, 3.0] → 2.0.
    assert (funnel.reached_first_value, funnel.median_days_to_first_value) == (3, 2.0)
    # Per signup week: W45 {a: 2.0} → 2.0; W46 {d: 0.0, g: 3.0} → 1.5 (unclamped it was
    # (-3.0 + 3.0) / 2 = 0.0); W47 nobody reached it → None, not 0.0.
    assert [(c.week, c.signups, c.reached, c.median_days) for c in funnel.cohorts] == [
        ("2026-W45", 2, 1, 2.0),
        ("2026-W46", 3, 2, 1.5),
        ("2026-W47", 1, 0, None),
    ]

    client.force_login(csm)
    page = client.get(f"/admin/customer-success/onboarding/?template={template.pk}").content.decode()
    assert "2.0 days, over the 3 tenants that reached it" in page
    assert "<td>2026-W46</td><td>3</td><td>2</td><td>1.5</td>" in page
    assert "<td>2026-W47</td><td>1</td><td>0</td><td>—</td>" in page
    assert "counts as reached at signup, 0 days" in page  # the clamp is said on the page
    assert "first value at signup" in client.get("/admin/customer-success/tenants/d/").content.decode()
    assert "first value after 3\xa0days" in client.get("/admin/customer-success/tenants/g/").content.decode()
    assert "· first value" not in client.get("/admin/customer-success/tenants/e/").content.decode()


# --- 3. the billing queue: header, tiles and rows ------------------------------------------------


def _past_due(external_id: str, plan: str, *, since: datetime, **extra) -> Tenant:
    tenant = tenant_at(external_id, signed_up_at=NOW - 90 * DAY, onboarding=False, **extra)
    story = StripeStory(tenant, plan=plan)
    story.customer(at=since - 30 * DAY)
    story.status("active", at=since - 30 * DAY, event="customer.subscription.created")
    story.go_past_due(at=since)
    return tenant


def test_the_billing_header_tiles_and_rows_count_the_same_subscriptions(client, billing_ops, at_now):
    _past_due("harbor", "professional", since=NOW - 4 * DAY)  # $49
    _past_due("cove", "starter", since=NOW - 2 * DAY)  # $19
    # Churned while past due: not in the queue (nobody works it), so not in its counts either.
    _past_due("gone", "business", since=NOW - 6 * DAY, lifecycle_stage=Tenant.LifecycleStage.CHURNED)  # $99
    fine = tenant_at("fine", signed_up_at=NOW - 90 * DAY, onboarding=False)
    StripeStory(fine).status("active", at=NOW - 5 * DAY, event="customer.subscription.created")

    client.force_login(billing_ops)
    page = client.get("/admin/billing/").content.decode()

    # Rows: harbor and cove → 2. MRR in dunning: $49 + $19 = $68.00. (The tile said 3 and
    # $167.00 before: it counted the churned tenant's $99 the list leaves out.)
    assert page.count('class="queue-row') == 2
    assert '<a href="#past-due">2 subscriptions past due or unpaid</a> · $68.00 MRR in dunning' in page
    assert '<strong><a href="#past-due">2</a></strong><small>$68.00 MRR</small>' in page
    revenue = client.get("/admin/billing/revenue/").content.decode()
    assert '<a href="/admin/billing/#past-due">2</a></strong><small>$68.00 MRR</small>' in revenue


# --- 4. the weekly alert CSV -------------------------------------------------------------------


def _alert(external_id: str, rule: str, opened_at: datetime, *, severity: str = "P2", route: str = "csm") -> Alert:
    tenant = tenant_at(external_id, signed_up_at=NOW - 60 * DAY, onboarding=False)
    return Alert.all_tenants.create(
        tenant=tenant,
        rule=AlertRule.objects.get(slug=rule),
        severity=severity,
        route=route,
        rationale=f"{rule} for {external_id}",
        opened_at=opened_at,
        sla_due_at=None if severity == "info" else opened_at + timedelta(hours=2),
    )


def _csv_ids(response) -> list[str]:
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    return sorted(row["id"] for row in csv.DictReader(io.StringIO(response.content.decode())))


def test_the_default_csv_week_has_the_rows_the_page_counts_for_last_week(
    client, cs_lead, billing_ops, settings, at_now
):
    settings.CS_TEAM_TIMEZONE = "America/New_York"
    # Weeks are the team's: 2026-W46 in New York (EST, UTC-5) runs from Mon 9 Nov 05:00 UTC to
    # Mon 16 Nov 05:00 UTC. Now (Wed 18 Nov 10:00 EST) is in W47, so "last week" is W46.
    a1 = _alert("a1", "no_activity", _utc(11, 9, 4, 30))  # Sun 8 Nov 23:30 EST → W45
    a2 = _alert("a2", "no_activity", _utc(11, 9, 5, 30))  # Mon 00:30 EST → W46
    a3 = _alert("a3", "expansion_signal", _utc(11, 12, 10), severity="info")  # W46, no SLA
    a4 = _alert("a4", "no_activity", _utc(11, 16, 4))  # Sun 15 Nov 23:00 EST → W46 (W47 in UTC)
    a5 = _alert("a5", "subscription_past_due", _utc(11, 13, 10), severity="P1", route="billing_ops")  # W46
    a6 = _alert("a6", "no_activity", _utc(11, 17, 10))  # W47
    week = "/admin/customer-success/alerts/export.csv"

    client.force_login(cs_lead)
    page = client.get("/admin/customer-success/alerts/").content.decode()
    # CS lead sees every queue: W46 opened a2, a3, a4, a5 → 4; with an SLA a2, a4, a5 → 3.
    assert (
        '<td>2026-W46 <small class="muted">last week</small></td>'
        f'<td><a class="week-export" href="{week}?week=2026-W46">4</a></td><td>3</td>'
    ) in page
    assert "Export last week, 2026-W46 (CSV)" in page and "America/New_York" in page
    w46 = sorted(str(a.id) for a in (a2, a3, a4, a5))
    assert _csv_ids(client.get(week)) == w46  # no ?week= is last week
    assert _csv_ids(client.get(f"{week}?week=2026-W46")) == w46
    assert _csv_ids(client.get(f"{week}?week=2026-W45")) == [str(a1.id)]
    assert _csv_ids(client.get(f"{week}?week=2026-W47")) == [str(a6.id)]

    # Billing ops see the billing queue only: W46 has a5 alone, on the page and in the CSV.
    client.force_login(billing_ops)
    page = client.get("/admin/customer-success/alerts/").content.decode()
    assert f'<a class="week-export" href="{week}?week=2026-W46">1</a></td><td>1</td>' in page
    assert _csv_ids(client.get(week)) == [str(a5.id)]


# --- 5. "Active" on a subscription whose period ended ----------------------------------------------


def test_a_status_says_it_is_stripes_as_of_its_last_event_and_when_the_period_ended(
    client, owner_a, tenant_a, tenant_b, csm, billing_ops, at_now
):
    # acme: active from 1 Oct 12:00; the period is 30 days, so it ended 31 Oct 12:00, and no
    # renewal event came after it (lost or late): Stripe's last word is still "Active".
    StripeStory(tenant_a).status("active", at=_utc(10, 1, 12), event="customer.subscription.created")
    # globex: active from 10 Nov: its period runs to 10 Dec, nothing to flag.
    StripeStory(tenant_b).status("active", at=_utc(11, 10, 12), event="customer.subscription.created")
    # harbor: past due since 10 Oct (its period 10 Oct – 9 Nov ended too).
    _past_due("harbor", "professional", since=_utc(10, 10))
    stale = '(per Stripe, last update 1 Oct 2026)</small> <small class="warn period-ended">— period ended 31 Oct 2026'

    client.force_login(owner_a)
    assert stale in client.get("/billing/").content.decode()

    client.force_login(csm)
    assert stale in client.get("/admin/customer-success/tenants/acme/").content.decode()
    fresh = client.get("/admin/customer-success/tenants/globex/").content.decode()
    assert "(per Stripe, last update 10 Nov 2026)" in fresh and "period ended" not in fresh

    client.force_login(billing_ops)
    row = client.get("/admin/billing/").content.decode().split('class="queue-row')[1].split("</tr>")[0]
    assert '>Past due</span> <small class="muted stripe-as-of">(per Stripe, last update 10 Oct 2026)' in row
    assert "— period ended 9 Nov 2026" in row


# --- 6. the sweep: every count that links to a list equals the list ------------------------------


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), []

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.found.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


def counted_links(html: str) -> list[tuple[str, int]]:
    """(href, number) of every link whose text is a count: "4", "12 open", "Needs review (3)"."""
    parser = _Anchors()
    parser.feed(html)
    links = []
    for href, text in parser.found:
        match = re.fullmatch(r"(\d+)(?: [^\d].*)?", text) or re.fullmatch(r"[^\d]*\((\d+)\)", text)
        if match:
            links.append((href, int(match.group(1))))
    return links


def _rows_in(html: str, element_id: str | None = None) -> int:
    """Rows of the table inside the element with this id, or of the page's first table after
    its heading (the "nothing here" row is not one)."""
    part = html.split(f'id="{element_id}"' if element_id else "<h1", 1)[1]
    body = part.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return len(re.findall(r"<tr\b", body)) - body.count('class="empty"')


def _every_page(client, path: str, html: str, rows_of) -> int:
    """The rows of a paged list over all its pages, following “Next”; they add up to the
    total its pager states."""
    pager = re.search(r'data-total="(\d+)"', html)  # an empty tenant list has no pager
    stated = int(pager.group(1)) if pager else 0
    total, page = 0, html
    while True:
        total += rows_of(page) if "<tbody>" in page else 0
        following = re.search(r'href="([^"]+)" rel="next"', page)
        if not following:
            break
        page = client.get(path + following.group(1).replace("&amp;", "&")).content.decode()
    assert total == stated, (path, total, stated)
    return total


def rows_behind(client, url: str) -> int:
    """The number of rows of the list a link opens, whatever kind of list it is."""
    parts = urlsplit(url)
    path_query = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.path.endswith("/export.csv"):
        return len(list(csv.DictReader(io.StringIO(client.get(path_query).content.decode()))))
    response = client.get(path_query)
    assert response.status_code == 200, url
    html = response.content.decode()
    if parts.path == "/admin/customer-success/alerts/":
        return _every_page(client, parts.path, html, lambda page: page.count('class="alert-row'))
    if parts.path == "/admin/customer-success/tenants/":
        total = _every_page(client, parts.path, html, lambda page: _rows_in(page, "tenant-table"))
        assert f"{total} tenant" in html
        return total
    if parts.path == "/admin/customer-success/touchpoints/":
        return _every_page(client, parts.path, html, _rows_in)
    if parts.path == "/admin/customer-success/advocacy/":
        return _every_page(client, parts.path, html, _rows_in)
    if parts.path == "/admin/customer-success/expansion/":
        return _every_page(client, parts.path, html, _rows_in)
    if parts.path == "/admin/customer-success/touchpoints/review/":
        return _every_page(client, parts.path, html, _rows_in)
    if parts.path == "/admin/customer-success/tasks/":
        return _every_page(client, parts.path, html, lambda page: page.count('<tr id="task-'))
    if parts.path == "/admin/customer-success/reports/" and parts.fragment:
        return _rows_in(html, parts.fragment)
    if parts.path == "/admin/billing/" and parts.fragment == "past-due":  # paged, 25 a page
        return _every_page(client, parts.path, html, lambda page: _rows_in(page, "past-due"))
    if parts.path == "/admin/billing/" and parts.fragment:
        return _rows_in(html, parts.fragment)
    raise AssertionError(f"a count links to {url}: teach rows_behind how to count that list")


@pytest.fixture
def portfolio(csm, cs_lead, billing_ops, at_now):
    """Eleven tenants in every state a count is about, through the real services and one tick."""
    quiet = [tenant_at(f"quiet-{i}", signed_up_at=NOW - 30 * DAY, csm_owner=csm) for i in range(3)]
    busy = [tenant_at(f"busy-{i}", signed_up_at=NOW - 20 * DAY, csm_owner=csm) for i in range(2)]
    for tenant in busy:
        for day in range(1, 8):
            ingest(tenant, "call.handled", NOW - day * DAY, count=3, now=NOW)
    tenant_at("fresh", signed_up_at=NOW - timedelta(hours=2))
    # Asked for a higher tier's feature: the tick's expansion sweep opens an opportunity.
    ingest(quiet[0], "feature.requested", NOW - DAY, now=NOW, feature="priority support")
    _past_due("late-1", "professional", since=NOW - 5 * DAY, csm_owner=csm)
    _past_due("late-2", "starter", since=NOW - 1 * DAY)
    gone = _past_due("gone", "business", since=NOW - 8 * DAY, lifecycle_stage=Tenant.LifecycleStage.CHURNED)
    expiring = tenant_at("expiring", signed_up_at=NOW - 40 * DAY, onboarding=False)
    story = StripeStory(expiring)
    story.customer(at=NOW - 30 * DAY, exp_month=11, exp_year=2026)  # works until 30 Nov
    story.status("active", at=NOW - 30 * DAY, event="customer.subscription.created")
    run_tick(now=NOW)
    # Stalled, then churned: an abandoned onboarding, not stalled work.
    tenant_at("stalled-gone", signed_up_at=NOW - 50 * DAY, lifecycle_stage=Tenant.LifecycleStage.CHURNED)
    TenantOnboarding.all_tenants.filter(tenant__external_id="stalled-gone").update(stalled_since=NOW - 40 * DAY)
    # Work in progress on the queue: one alert taken by the CSM, one acknowledged after its SLA.
    first, second = Alert.all_tenants.filter(tenant__in=quiet, status="open").order_by("id")[:2]
    alert_assign(alert=first, actor=csm, assignee_id=csm.id, now=NOW)
    alert_acknowledge(alert=second, actor=csm, now=second.sla_due_at + timedelta(minutes=5))
    # Two sends interrupted after the provider was called.
    ids = list(Delivery.all_tenants.order_by("id").values_list("id", flat=True)[:2])
    Delivery.all_tenants.filter(id__in=ids).update(status=Delivery.Status.NEEDS_REVIEW)
    assert MilestoneProgress.all_tenants.exists() and gone.lifecycle_stage == "churned"


PAGES = {
    "csm": [
        "/admin/customer-success/",
        "/admin/customer-success/?scope=all",
        "/admin/customer-success/alerts/",
        "/admin/customer-success/onboarding/",
        "/admin/customer-success/playbooks/",
        "/admin/customer-success/tasks/",
        "/admin/customer-success/expansion/",
    ],
    "cs_lead": [
        "/admin/customer-success/",
        "/admin/customer-success/alerts/",
        "/admin/customer-success/alerts/rules/",
        "/admin/customer-success/onboarding/",
        "/admin/billing/revenue/",
        "/admin/customer-success/reports/",
        "/admin/customer-success/reports/weekly/",
    ],
    "billing_ops": [
        "/admin/customer-success/alerts/",
        "/admin/customer-success/alerts/rules/",
        "/admin/billing/",
        "/admin/billing/revenue/",
    ],
}


def test_every_count_on_a_cockpit_page_equals_the_rows_of_the_list_it_links_to(
    client, portfolio, csm, cs_lead, billing_ops
):
    users = {"csm": csm, "cs_lead": cs_lead, "billing_ops": billing_ops}
    followed = []
    for role, pages in PAGES.items():
        client.force_login(users[role])
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, (role, page)
            for href, shown in counted_links(response.content.decode()):
                target = urljoin(f"http://testserver{page}", href.replace("&amp;", "&"))
                followed.append((role, page, href))
                assert rows_behind(client, target) == shown, f"{role} on {page}: “{shown}” links to {href}"
    # Not a sweep of nothing: the links this portfolio must have, each checked above.
    kinds = {(role, page, re.sub(r"\d{4}-W\d{2}", "W", href)) for role, page, href in followed}
    for expected in [
        ("csm", "/admin/customer-success/alerts/", "?status=open"),
        ("csm", "/admin/customer-success/alerts/", "?assignee=me"),
        ("csm", "/admin/customer-success/alerts/", "?sla=breached"),
        ("csm", "/admin/customer-success/alerts/", "?severity=P1"),
        ("csm", "/admin/customer-success/alerts/", "/admin/customer-success/alerts/export.csv?week=W"),
        ("csm", "/admin/customer-success/onboarding/", "/admin/customer-success/tenants/?onboarding=stalled"),
        ("csm", "/admin/customer-success/playbooks/", "/admin/customer-success/touchpoints/review/"),
        ("cs_lead", "/admin/customer-success/alerts/rules/", "/admin/customer-success/alerts/?rule=no_activity"),
        (
            "csm",
            "/admin/customer-success/",
            "/admin/customer-success/tenants/?bucket=critical&csm={csm}&sort=health",
        ),
        ("csm", "/admin/customer-success/", "/admin/customer-success/alerts/?assignee=me&sla=breached"),
        ("csm", "/admin/customer-success/", "/admin/customer-success/tasks/?scope=mine"),
        ("csm", "/admin/customer-success/?scope=all", "/admin/customer-success/alerts/?severity=P2"),
        ("cs_lead", "/admin/customer-success/", "/admin/customer-success/tenants/?csm={csm}"),
        ("csm", "/admin/customer-success/", "/admin/customer-success/expansion/?stage=live&csm={csm}"),
        ("cs_lead", "/admin/customer-success/reports/weekly/", "/admin/customer-success/expansion/?stage=live"),
        ("cs_lead", "/admin/customer-success/", "/admin/customer-success/alerts/?assignee={csm}"),
        ("billing_ops", "/admin/billing/", "#past-due"),
        ("billing_ops", "/admin/billing/", "#expiring-cards"),
        ("billing_ops", "/admin/billing/revenue/", "/admin/billing/#past-due"),
    ]:
        expected = (expected[0], expected[1], expected[2].format(csm=csm.id))
        assert expected in kinds, (expected, sorted(k for k in kinds if k[1] == expected[1]))
    # The home's funnel steps, one link each, to the tenant list's "reached" filter.
    assert len({h for r, p, h in kinds if r == "csm" and p == "/admin/customer-success/" and "reached=" in h}) == 4


def test_the_portfolio_counts_by_hand(client, portfolio, csm, billing_ops):
    # The sweep compares page with page; these pin the numbers themselves.
    client.force_login(csm)
    onboarding = client.get("/admin/customer-success/onboarding/").content.decode()
    # Stalled: the three quiet tenants (30 days, nothing done), busy-0/1 (20 days: events, but
    # verify_email, due on day 0, still open) and fresh (2 hours: verify_email is due on day 0
    # too) → 6; stalled-gone churned is not counted (the tenant list's filter leaves it out too).
    assert (
        '<a id="stalled-count" href="/admin/customer-success/tenants/?onboarding=stalled">6 stalled</a>' in onboarding
    )
    playbooks = client.get("/admin/customer-success/playbooks/").content.decode()
    assert "Needs review (2)" in playbooks

    client.force_login(billing_ops)
    queue = client.get("/admin/billing/").content.decode()
    # late-1 ($49) and late-2 ($19); gone is churned → 2 rows, $68.00; one card (expiring's).
    assert '<a href="#past-due">2 subscriptions past due or unpaid</a> · $68.00 MRR in dunning' in queue
    assert '<a href="#expiring-cards">1 card expiring within 30 days</a>' in queue
