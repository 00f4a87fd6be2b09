"""The weekly evidence email (issue 16 §9, seed 002's cadence): on Monday from 08:00 team time,
each CSM gets last week's evidence for their book and each CS lead the team's, once, through
the outbox; a week with nothing in it is a skipped row. The figures are the fixture's, by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import Alert, AlertRule
from core.events import TimelineKind
from lifecycle.evidence import evidence_emails_send
from lifecycle.expansion import expansion_sweep
from lifecycle.models import Opportunity
from lifecycle.services import opportunity_move
from messaging.models import Message
from tenants.services import timeline_record

from .alert_helpers import NOW, ingest, tenant_at
from .factories import UserFactory

pytestmark = pytest.mark.django_db
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the week before: 16–22 Nov (NOW is the 18th)


def move(tenant, at, summary: str, to: str) -> None:
    timeline_record(tenant=tenant, at=at, kind=TimelineKind.HEALTH_BUCKET_CHANGED, summary=summary, data={"to": to})


def test_monday_brings_each_csm_their_book_and_the_lead_the_team(csm, cs_lead):
    other = UserFactory(username="sam", first_name="Sam", email="sam@example.com", roles=["csm"])
    acme = tenant_at("acme", signed_up_at=NOW - timedelta(days=200), csm_owner=csm, name="Acme Dental")
    bolt = tenant_at("bolt", signed_up_at=NOW - timedelta(days=200), csm_owner=csm, name="Bolt Plumbing")
    cove = tenant_at("cove", signed_up_at=NOW - timedelta(days=200), csm_owner=other, name="Cove Cafe")
    move(acme, NOW, "Health at risk → healthy (82)", "healthy")
    move(bolt, NOW, "Health healthy → critical (41)", "critical")
    move(cove, NOW - timedelta(days=10), "before the week", "critical")
    Alert.all_tenants.create(tenant=bolt, rule=AlertRule.objects.get(slug="health_critical"), severity="P2",
                             route="csm", opened_at=NOW, rationale="critical")  # fmt: skip
    bolt.contract_ends_on = (MONDAY + timedelta(days=20)).date()
    bolt.save(update_fields=["contract_ends_on"])
    ingest(acme, "feature.requested", NOW - timedelta(days=1), now=NOW, feature="transcripts")
    expansion_sweep(now=NOW)
    opportunity_move(opportunity=Opportunity.all_tenants.get(tenant=acme), stage="won", actor=csm, now=NOW)

    assert evidence_emails_send(now=MONDAY - timedelta(hours=2)) == 0  # before 08:00
    assert evidence_emails_send(now=MONDAY) == 2  # the CSM's and the lead's; Sam's week was empty
    assert Message.objects.filter(purpose="lifecycle.evidence").count() == 3
    assert evidence_emails_send(now=MONDAY + timedelta(hours=1)) == 0  # once a week

    mine = Message.objects.get(recipient=csm.email, purpose="lifecycle.evidence")
    assert mine.subject == "Week 2026-W47 for your book: 1 recovered, 1 at risk, 1 renewal(s) within 30 days"
    body = mine.body
    assert "Week 2026-W47 (16 Nov – 23 Nov) for your book: 2 live customers." in body
    assert "- Recovered to healthy: 1\n  - Acme Dental: Health at risk → healthy (82)" in body
    assert "- Moved to at risk or critical: 1\n  - Bolt Plumbing: Health healthy → critical (41)" in body
    assert "- Alerts opened: 1, resolved: 0" in body
    assert "Renewals within 30 days: 1\n- Bolt Plumbing: the contract ends 13 Dec 2026" in body
    assert "- Won: 1\n  - Acme Dental: Starter → Professional (+$30.00 MRR)" in body
    assert "/admin/customer-success/reports/weekly/?week=2026-W47" in body

    sams = Message.objects.get(recipient="sam@example.com", purpose="lifecycle.evidence")
    assert sams.status == "skipped" and sams.reason == "nothing happened in the week"  # Cove's move was earlier
    leads = Message.objects.get(recipient=cs_lead.email, purpose="lifecycle.evidence")
    assert (
        leads.subject.startswith("Week 2026-W47 for the team: 1 recovered, 1 at risk")
        and "3 live customers" in leads.body
    )
