"""The renewal health pack (issue 16 §5, seed 002's 120-day health review): one printable
page with the contract and where the runway stands, health and its reasons, usage and
outcomes by month, incidents, support, what customers said and the expansion pipeline —
each figure from a fixture worked out by hand. Access is audited, another tenant's id 404s."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest
import time_machine

from lifecycle.renewals import renewal_runway_advance
from tenants.models import AuditLog

from .alert_helpers import NOW, ingest, set_current_score, tenant_at

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


@pytest.fixture
def acme(csm):
    tenant = tenant_at("acme", signed_up_at=NOW - 300 * DAY, csm_owner=csm, name="Acme Dental", onboarding=False)
    tenant.contract_ends_on = (NOW + 100 * DAY).date()  # 26 Feb 2027: the 120-day step is made
    tenant.save(update_fields=["contract_ends_on"])
    renewal_runway_advance(now=NOW)
    set_current_score(tenant, 72, NOW)
    # Usage: 3 calls on 2 Oct and 2 on 5 Oct (October: 5 calls, 2 days); 4 on 10 Nov.
    ingest(tenant, "call.handled", NOW.replace(month=10, day=2), count=3, now=NOW)
    ingest(tenant, "call.handled", NOW.replace(month=10, day=5), count=2, now=NOW)
    ingest(tenant, "call.handled", NOW.replace(day=10), count=4, now=NOW)
    ingest(tenant, "settings.changed", NOW.replace(day=10), now=NOW)  # usage, not the key event
    # What they said: CSAT 4 and 5 (4.5), NPS 9 with a comment.
    for score in (4, 5):
        ingest(tenant, "csat.submitted", NOW - 20 * DAY, now=NOW, score=score, ticket_id="T-1")
    ingest(tenant, "nps.submitted", NOW - 10 * DAY, now=NOW, score=9, comment="Never miss a call")
    return tenant


def test_the_pack_has_the_renewal_conversations_figures(client, csm, acme):
    client.force_login(csm)
    with time_machine.travel(NOW, tick=False):
        html = unescape(client.get("/admin/customer-success/tenants/acme/renewal/").content.decode())

    text = " ".join(re.sub(r"<[^>]+>", "", html).split())
    assert "The contract ends on 26 Feb 2027, in 100 days." in text
    assert "Renewal in 120 days: health review for Acme Dental" in html and "Open, due 25 Nov" in html
    assert "Renewal in 90 days: QBR with Acme Dental" in html and f"{date(2026, 11, 28):%-d %b %Y}" in html
    assert "Score 72 · At risk" in text
    assert "9 × call.handled in the last twelve months" in text
    assert "<tr><td>Oct 2026</td><td>5</td><td>2</td><td>5</td></tr>" in html
    assert "<tr><td>Nov 2026</td><td>5</td><td>1</td><td>4</td></tr>" in html  # 4 calls + 1 setting
    assert "CSAT over the last 12 months: 4.5/5 from 2 answers." in text
    assert "Never miss a call" in html
    assert AuditLog.objects.filter(action="tenant.view", actor=csm).count() == 1


def test_another_tenant_or_none_is_a_404(client, csm, acme):
    client.force_login(csm)
    assert client.get("/admin/customer-success/tenants/nobody/renewal/").status_code == 404
    undated = tenant_at("undated", signed_up_at=NOW - 30 * DAY, onboarding=False)
    html = client.get(f"/admin/customer-success/tenants/{undated.external_id}/renewal/").content.decode()
    assert "No contract end date: set one on the tenant" in html


def test_the_runway_says_which_steps_wait_are_due_or_were_skipped(client, csm):
    late = tenant_at("late", signed_up_at=NOW - 300 * DAY, csm_owner=csm, name="Late Co", onboarding=False)
    late.contract_ends_on = (NOW + 45 * DAY).date()  # set late: the 120- and 90-day windows passed
    late.save(update_fields=["contract_ends_on"])
    client.force_login(csm)
    with time_machine.travel(NOW, tick=False):
        html = client.get("/admin/customer-success/tenants/late/renewal/").content.decode()
    rows = re.findall(r"<td>(Renewal in \d+ days)[^<]*</td>\s*<td>[^<]*</td>\s*<td>([^<]*)</td>", html)
    assert rows == [
        ("Renewal in 120 days", "Skipped: the date was set after this step&#x27;s window"),
        ("Renewal in 90 days", "Skipped: the date was set after this step&#x27;s window"),
        ("Renewal in 60 days", "Due now: the next tick makes its task"),
        ("Renewal in 30 days", "Not yet"),
    ]
