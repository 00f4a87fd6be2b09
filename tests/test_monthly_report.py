"""The monthly CS report (issue 16; seed 004's "Customer Success Monthly Report") for October
2026 on a small book, every figure worked out by hand below; the page lists the rows behind
each count, and downloads as Markdown and CSV. CSMs may not open it (revenue figures)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine

from billing.models import Trial
from lifecycle.reports import monthly_report, report_markdown
from tenants.models import Tenant

from .alert_helpers import NOW, ingest, tenant_at
from .billing_helpers import StripeStory, stripe_settings

pytestmark = pytest.mark.django_db
REPORT = "/admin/customer-success/reports/"


def oct_(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


@pytest.fixture
def book():
    """Customers at 1 Oct: starter s1–s4, professional p1–p3, business b1–b2 → 9 (s5 left in
    September; n1 signed up and left within October: in neither count).
      churned in October: s1 (10 Oct), p1 (20 Oct) → 2 of 9 = 22.2 %
        starter 1 of 4 = 25.0 %, professional 1 of 3 = 33.3 %, business 0 of 2 = 0.0 %
      p2 churned on 2 Nov: not October's.
      trials ended in October: s2 converted (3 Oct), p3 converted (28 Oct), n1 lapsed (15 Oct)
        → 2 of 3 = 66.7 %; b1 converted on 3 Nov: not October's.
      CSAT in October 5, 4, 3 → 4.0 (the 1 of 2 Nov is November's)
      NPS in October 10, 9, 7, 3 → (2 promoters − 1 detractor) / 4 = 25
      support (professional, first response within 2 h): A answered in 1 h (in), B in 5 h
        (late), D never (late), C opened 31 Oct 23:00 and not due by the month's end
        → 1 of 3 = 33.3 %
      health today: b2 35 (high risk), p3 55 (medium), s3 80."""
    sept = datetime(2026, 9, 1, tzinfo=UTC)
    t = {}
    for key, plan in [("s1", "starter"), ("s2", "starter"), ("s3", "starter"), ("s4", "starter"), ("s5", "starter"),
                      ("p1", "professional"), ("p2", "professional"), ("p3", "professional"),
                      ("b1", "business"), ("b2", "business")]:  # fmt: skip
        t[key] = tenant_at(key, signed_up_at=sept, plan=plan, onboarding=False)
    t["n1"] = tenant_at("n1", signed_up_at=oct_(5), plan="starter", onboarding=False)
    for key, at in [("s5", datetime(2026, 9, 20, tzinfo=UTC)), ("s1", oct_(10)), ("p1", oct_(20)),
                    ("n1", oct_(25)), ("p2", datetime(2026, 11, 2, tzinfo=UTC))]:  # fmt: skip
        Tenant.objects.filter(pk=t[key].pk).update(lifecycle_stage="churned", churned_at=at, churn_reason="price")
    november_3 = datetime(2026, 11, 3, tzinfo=UTC)
    for key, field, at in [("s2", "converted_at", oct_(3)), ("p3", "converted_at", oct_(28)),
                           ("n1", "lapsed_at", oct_(15)), ("b1", "converted_at", november_3)]:  # fmt: skip
        Trial.all_tenants.create(
            tenant=t[key], plan=t[key].plan, started_at=at - timedelta(days=14), ends_at=at,
            status="converted" if field == "converted_at" else "lapsed", created_at=at, updated_at=at, **{field: at},
        )  # fmt: skip
    for score, day in [(5, 2), (4, 9), (3, 16)]:
        ingest(t["s2"], "csat.submitted", oct_(day), score=score, now=NOW)
    ingest(t["s2"], "csat.submitted", datetime(2026, 11, 2, tzinfo=UTC), score=1, now=NOW)
    for score, day in [(10, 3), (9, 8), (7, 13), (3, 18)]:
        ingest(t["b2"], "nps.submitted", oct_(day), score=score, now=NOW)
    ingest(t["b2"], "nps.submitted", datetime(2026, 11, 5, tzinfo=UTC), score=0, now=NOW)
    p3 = t["p3"]
    ingest(p3, "ticket.created", oct_(10, 10), ticket_id="A", now=NOW)
    ingest(p3, "ticket.first_response", oct_(10, 11), ticket_id="A", now=NOW)
    ingest(p3, "ticket.created", oct_(12, 10), ticket_id="B", now=NOW)
    ingest(p3, "ticket.first_response", oct_(12, 15), ticket_id="B", now=NOW)
    ingest(p3, "ticket.created", oct_(20, 10), ticket_id="D", now=NOW)
    ingest(p3, "ticket.created", oct_(31, 23), ticket_id="C", now=NOW)
    for key, score, bucket in [("b2", 35, "critical"), ("p3", 55, "critical"), ("s3", 80, "healthy")]:
        Tenant.objects.filter(pk=t[key].pk).update(health_score=score, health_bucket=bucket)
    return t


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_october_worked_out_by_hand(client, cs_lead, book):
    client.force_login(cs_lead)
    with time_machine.travel(NOW, tick=False):
        html = client.get(REPORT + "?month=2026-10").content.decode()
    page = text(html)

    assert "Trial → paid 66.7 % 2 converted of 3 trials that ended" in page
    assert "Monthly churn 22.2 % 2 churned of 9 customers at the start" in page
    assert "CSAT 4.0/5 3 responses" in page
    assert "NPS 25 4 answers" in page
    assert "Support: first response in target 33.3 % 1 of 3 tickets due" in page
    assert "Starter 4 1 25.0 % < 4.0 %" in page and "Professional 3 1 33.3 %" in page and "Business 2 0 0.0 %" in page
    assert "1 high-risk customers (health below 40, today) · 1 at medium risk" in page

    # The rows behind each count, in the lists its link opens: the trials on the page, the
    # churned and the risky customers in the tenant list's filters.
    trials = html.split('id="trials"')[1].split("</tbody>")[0]
    assert re.findall(r"/tenants/([a-z0-9]+)/", trials) == ["p3", "s2"]  # converted, by name
    nps = text(html.split('id="nps"')[1].split("</table>")[0])
    assert "3 · detractor 1" in nps and "7 1" in nps and "9 · promoter 1" in nps and "10 · promoter 1" in nps

    def listed(query: str) -> list[str]:
        with time_machine.travel(NOW, tick=False):
            page = client.get(f"/admin/customer-success/tenants/?{query}").content.decode()
        return sorted(re.findall(r"/tenants/([a-z0-9]+)/", page.split('id="tenant-table"')[1]))

    assert 'href="/admin/customer-success/tenants/?churned=2026-10">2 churned</a>' in html
    assert listed("churned=2026-10") == ["p1", "s1"]  # not n1 (signed up in October), not p2 (November)
    assert listed("risk=high&sort=health") == ["b2"] and listed("risk=medium") == ["p3"]


def test_the_downloads_say_the_same(client, cs_lead, book):
    client.force_login(cs_lead)
    with time_machine.travel(NOW, tick=False):
        markdown = client.get(REPORT + "?month=2026-10&format=md")
        table = client.get(REPORT + "?month=2026-10&format=csv")
    assert markdown["Content-Disposition"] == 'attachment; filename="cs-report-2026-10.md"'
    md = markdown.content.decode()
    assert md.startswith("## Customer Success Monthly Report — October 2026\n")
    assert "- **Trial → Paid Conversion:** 66.7 % (Target: 25%) — 2 of 3 trials that ended" in md
    assert "- **Monthly Churn Rate:** 22.2 % (Target: <3%) — 2 of 9 customers" in md
    assert "- Starter: 25 % (1 of 4; target <4%)" in md
    assert "- **High-Risk Customers:** 1 (health below 40): B2 Inc" in md
    figures = {row["metric"]: row["value"] for row in csv.DictReader(io.StringIO(table.content.decode()))}
    assert figures["Trial → paid conversion"] == "66.7 %" and figures["CSAT"] == "4/5" and figures["NPS"] == "25"
    assert figures["First responses within the support target"] == "33.3 %"


@pytest.mark.parametrize(
    ("month", "note"),
    [
        ("octobre", "“octobre” is not a month (YYYY-MM): showing November 2026."),
        ("2027-01", "January 2027 has not begun: showing November 2026."),
        ("2026-13", "“2026-13” is not a month (YYYY-MM): showing November 2026."),
    ],
)
def test_a_month_that_is_not_one_shows_this_month_with_a_note(client, cs_lead, month, note):
    client.force_login(cs_lead)
    with time_machine.travel(NOW, tick=False):
        response = client.get(REPORT + f"?month={month}")
    assert response.status_code == 200
    assert note in response.content.decode()
    assert "November 2026, to 18 Nov 15:00 UTC" in text(response.content.decode())


def test_csms_may_not_open_it(client, csm):
    client.force_login(csm)
    assert client.get(REPORT).status_code == 403


def test_the_weekly_dashboard_for_the_week_of_12_october(client, cs_lead, book):
    """Week 2026-W42, Mon 12 – Sun 18 Oct. By hand, from the same book: customers on Monday
    s2 s3 s4 n1 (starter 4), p1 p2 p3 (3), b1 b2 (2) = 9, none churned that week (s1 left on
    the 10th, p1 on the 20th); n1's trial lapsed on the 15th → 0 of 1 converted; CSAT 3 (the
    16th) → 3.0; NPS a 7 (passive, the 13th) and a 3 (detractor, Sunday the 18th), both from
    business → (0 − 1) / 2 = −50; ticket B answered after 5 h
    → 0 of 1 first responses in target."""
    client.force_login(cs_lead)
    with time_machine.travel(NOW, tick=False):
        html = client.get(REPORT + "weekly/?week=2026-W42").content.decode()
        bad = client.get(REPORT + "weekly/?week=soon").content.decode()
    page = text(html)

    assert "Weekly dashboard 12 Oct – 18 Oct 2026" in page
    assert "Trial → paid 0.0 % 0 of 1 trial that ended" in page
    assert "Churned this week 0 of 9 customers on Monday" in page
    assert "Support: first response in target 0.0 % 0 of 1 tickets due" in page
    assert "Starter 4 0 0.0 %" in page and "Business 2 0 0.0 %" in page
    assert "Business 2 -50" in page and "Starter 0 —" in page  # NPS by tier
    assert "All tiers: NPS -50 over 2 answers · CSAT 3.0/5 (1)" in page
    assert 'href="?week=2026-W41"' in html and 'href="?week=2026-W43"' in html
    assert "“soon” is not a week (YYYY-Www, e.g. 2026-W47): showing this week." in text(bad)


def test_a_churned_month_that_is_not_one_is_ignored_with_a_note(client, cs_lead, book):
    client.force_login(cs_lead)
    html = client.get("/admin/customer-success/tenants/?churned=october", follow=True).content.decode()
    assert "“october” is not a month (YYYY-MM); the churned filter was ignored." in html
    assert "11 tenants" in html  # every tenant of the book, unfiltered


def test_mrr_churn_by_tier_worked_out_by_hand(settings):
    """MRR at 1 Oct from the Stripe mirror: starter s1 $19 and s2 $19, professional p1 $49,
    business b1 $99. In October s1 (10 Oct) and p1 (20 Oct) cancel: starter $19 of $38 = 50 %,
    professional $49 of $49 = 100 %, business $0 of $99 = 0 %."""
    stripe_settings(settings)
    sept = datetime(2026, 9, 1, tzinfo=UTC)
    stories = {}
    for key, plan in [("s1", "starter"), ("s2", "starter"), ("p1", "professional"), ("b1", "business")]:
        tenant = tenant_at(key, signed_up_at=sept, plan=plan, onboarding=False)
        stories[key] = StripeStory(tenant, plan=plan)
        stories[key].status("active", at=sept + timedelta(days=3), event="customer.subscription.created")
    for key, day in (("s1", 10), ("p1", 20)):
        stories[key].status("canceled", at=oct_(day), event="customer.subscription.deleted", canceled_at=oct_(day))
        # The tick's billing job marks the tenant churned when the cancellation takes effect.
        Tenant.objects.filter(external_id=key).update(lifecycle_stage="churned", churned_at=oct_(day))
    report = monthly_report(month=datetime(2026, 10, 1).date(), now=NOW)
    assert [(t.plan, t.mrr_churned, t.mrr_at_start, t.mrr_rate, t.churned) for t in report.churn_by_tier] == [
        ("starter", 1900, 3800, 50.0, 1), ("professional", 4900, 4900, 100.0, 1), ("business", 0, 9900, 0.0, 0)
    ]  # fmt: skip
    assert "- Starter: 50 % (1 of 2; target <4%); MRR churn 50 % ($19.00 of $38.00)" in report_markdown(report)
