"""NPS by month, plan and segment (issue 16 §2), worked out by hand: NOW is 18 Nov 2026."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from lifecycle.nps import nps_breakdown

from .alert_helpers import NOW, ingest, tenant_at

pytestmark = pytest.mark.django_db


def answer(tenant, month: int, day: int, score: int) -> None:
    ingest(tenant, "nps.submitted", datetime(2026, month, day, 12, tzinfo=UTC), now=NOW, score=score)


def test_nps_by_month_plan_and_segment(client, cs_lead):
    acme = tenant_at("acme", signed_up_at=NOW.replace(month=1), plan="starter", segment="dental")
    bolt = tenant_at("bolt", signed_up_at=NOW.replace(month=1), plan="professional")
    for month, day, score in ((11, 10, 10), (11, 12, 9), (10, 5, 3)):
        answer(acme, month, day, score)
    for month, day, score in ((11, 1, 8), (8, 30, 6)):
        answer(bolt, month, day, score)
    answer(bolt, 5, 2, 0)  # before the 90 days, in the twelve months

    found = nps_breakdown(now=NOW)
    months = {row.label: (row.answers, row.nps) for row in found.by_month}
    # November: 10, 9, 8 → 2 promoters, no detractor of 3: 67. August 6, October 3, May 0: −100.
    assert months["Nov 2026"] == (3, 67) and months["Oct 2026"] == (1, -100) and months["Aug 2026"] == (1, -100)
    assert months["May 2026"] == (1, -100) and months["Dec 2025"] == (0, None) and len(months) == 12
    # The last 90 days (from 20 Aug): Starter 10, 9, 3 → (2 − 1) / 3 = 33; Professional 8, 6 → −50.
    assert [(r.label, r.answers, r.nps) for r in found.by_plan] == [
        ("Starter", 3, 33), ("Professional", 2, -50), ("Business", 0, None)
    ]  # fmt: skip
    assert [(r.label, r.nps) for r in found.by_segment] == [("No segment", -50), ("dental", 33)]

    client.force_login(cs_lead)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/admin/customer-success/reports/nps/").content.decode()
    assert "<tr><td>Starter</td><td>3</td><td>2</td><td>0</td><td>1</td><td>33</td></tr>" in page
