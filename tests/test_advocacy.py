"""Advocacy candidates (issue 16 §6): healthy, a promoter by their latest NPS answer of 180
days, onboarding complete, no urgent or high alert open — the list CSMs ask for reviews,
testimonials, case studies and referrals from; the weekly dashboard's count is the list."""

from __future__ import annotations

from datetime import date, timedelta
from html import unescape

import pytest
import time_machine

from alerts.models import Alert, AlertRule
from lifecycle.advocacy import advocacy_candidates
from lifecycle.models import AdvocacyAsk
from lifecycle.reports import monthly_report, report_markdown
from onboarding.models import TenantOnboarding
from tenants.models import AuditLog, TimelineEntry

from .alert_helpers import NOW, ingest, set_current_score, tenant_at

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def promoter(external_id: str, *, score: int = 85, nps=(10,), onboarded: bool = True, csm=None):
    tenant = tenant_at(external_id, signed_up_at=NOW - 120 * DAY, name=f"{external_id.title()} Co", csm_owner=csm)
    set_current_score(tenant, score, NOW)
    for i, answer in enumerate(nps):  # oldest first
        ingest(tenant, "nps.submitted", NOW - (20 - i) * DAY, now=NOW, score=answer, comment=f"answer {i}")
    if onboarded:
        TenantOnboarding.objects.for_tenant(tenant).update(completed_at=NOW - 90 * DAY)
    return tenant


def test_only_healthy_onboarded_promoters_without_urgent_alerts(client, csm, cs_lead):
    promoter("ada", csm=csm)
    promoter("bea", nps=(6, 9), csm=csm)  # their latest answer is 9
    promoter("cal", nps=(10, 5))  # was a promoter; the latest answer is 5
    promoter("dev", score=70)  # at risk
    promoter("eve", onboarded=False)
    fay = promoter("fay")
    Alert.all_tenants.create(
        tenant=fay, rule=AlertRule.objects.get(slug="subscription_past_due"), severity="P1", route="billing_ops",
        status="open", opened_at=NOW, rationale="past due", sla_due_at=NOW + DAY,
    )  # fmt: skip
    promoter("gus", nps=())  # never answered

    found = advocacy_candidates(now=NOW)
    assert [(c.tenant.external_id, c.nps, c.comment) for c in found] == [
        ("bea", 9, "answer 1"),
        ("ada", 10, "answer 0"),
    ]
    assert [c.tenant.external_id for c in advocacy_candidates(now=NOW, csm=str(csm.id))] == ["bea", "ada"]

    client.force_login(cs_lead)
    with time_machine.travel(NOW, tick=False):
        weekly = client.get("/admin/customer-success/reports/weekly/").content.decode()
        listed = client.get("/admin/customer-success/advocacy/").content.decode()
    assert '<a href="/admin/customer-success/advocacy/">2</a>' in weekly
    assert "Ada Co" in listed and "Bea Co" in listed and "Fay Co" not in listed


def test_a_csm_records_asks_and_the_report_counts_what_was_published(client, csm):
    acme = promoter("acme", csm=csm)
    client.force_login(csm)
    url = "/admin/customer-success/advocacy/acme/ask/"
    with time_machine.travel(NOW, tick=False):
        bad = client.post(url, {"kind": "poem", "outcome": "asked"}, follow=True).content.decode()
        client.post(url, {"kind": "case_study", "outcome": "asked"})
        page = client.get("/admin/customer-success/advocacy/").content.decode()
    assert "Acme Co: Ask for one of: public review, testimonial, case study, referral." in unescape(bad)
    asks = page.split('id="asks-heading"')[1]
    assert "Acme Co" in asks and "Case study" in asks and "Asked" in asks

    with time_machine.travel(NOW + DAY, tick=False):
        done = client.post(url, {"kind": "case_study", "outcome": "published", "note": "On the blog"}, follow=True)
    assert "Acme Co: case study — published." in done.content.decode()
    ask = AdvocacyAsk.objects.for_tenant(acme).get()
    assert (ask.outcome, ask.asked_at, ask.updated_at, ask.note) == ("published", NOW, NOW + DAY, "On the blog")
    assert AuditLog.objects.filter(action="advocacy.ask", actor=csm).count() == 2
    assert [e.summary for e in TimelineEntry.objects.for_tenant(acme).filter(kind="advocacy.ask").order_by("at")] == [
        "Case study: asked", "Case study: published — On the blog"
    ]  # fmt: skip
    report = monthly_report(month=date(2026, 11, 1), now=NOW + 2 * DAY)
    assert [t.external_id for t in report.case_studies] == ["acme"] and report.reviews == 0
    assert "- **Case studies published:** 1 (Acme Co)" in report_markdown(report)
