"""Cohorts (issue 16 §8): retention N months after signup of each signup month, plan,
segment or onboarding path — counting only tenants whose N months have passed — the median
days to first value, and NRR (MRR now over MRR a month after signup). Every figure here is
worked out by hand; NOW is 18 Nov 2026 15:00 UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from lifecycle.cohorts import add_months, cohorts
from onboarding.models import TenantOnboarding
from tenants.models import Tenant

from .alert_helpers import NOW, tenant_at
from .billing_helpers import StripeStory, stripe_settings

pytestmark = pytest.mark.django_db


def utc(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def stripe(settings):
    stripe_settings(settings)


@pytest.fixture
def book():
    """May: Alma (Professional, stays), Birch (Starter, churns 1 Jul), Cove (Starter, churns
    25 May). October: Dune (Starter, stays) and Elm (Business, 25 Oct: not a month in yet)."""
    made = {}
    for key, signed, plan, churned, segment in (
        ("alma", utc(5, 10), "professional", None, "dental"),
        ("birch", utc(5, 20), "starter", utc(7, 1), "dental"),
        ("cove", utc(5, 5), "starter", utc(5, 25), "hvac"),
        ("dune", utc(10, 1), "starter", None, ""),
        ("elm", utc(10, 25), "business", None, "hvac"),
    ):
        made[key] = tenant_at(key, signed_up_at=signed, plan=plan, segment=segment)
        if churned:
            Tenant.objects.filter(pk=made[key].pk).update(lifecycle_stage="churned", churned_at=churned)
    # First value: Alma 3 days after signup, Birch 5, the rest never.
    for key, days in (("alma", 3), ("birch", 5)):
        TenantOnboarding.all_tenants.filter(tenant=made[key]).update(
            first_value_at=made[key].signed_up_at + timedelta(days=days)
        )
    return made


def rows(by: str) -> dict[str, tuple]:
    return {
        c.label: (c.size, [(r.retained, r.eligible, r.rate) for r in c.retention], c.first_value_days)
        for c in cohorts(by=by, now=NOW)
    }


def test_retention_by_signup_month_counts_only_the_months_that_passed(book):
    found = rows("month")
    # After 1, 2, 3, 6, 9, 12 months. May: Cove left within its first month, Birch in its
    # second; at 6 months Birch (20 Nov) is not there yet, so it is Alma and Cove: 1 of 2.
    assert found["May 2026"] == (
        3, [(2, 3, 66.7), (1, 3, 33.3), (1, 3, 33.3), (1, 2, 50.0), (0, 0, None), (0, 0, None)], 4.0
    )  # fmt: skip
    # October: Dune's first month has passed (1 Nov), Elm's has not (25 Nov).
    assert found["Oct 2026"] == (2, [(1, 1, 100.0)] + [(0, 0, None)] * 5, None)
    assert list(found) == ["Oct 2026", "May 2026"]  # newest first


def test_retention_by_plan_and_segment(book):
    by_plan = rows("plan")
    # Starter: Birch, Cove, Dune. After a month Birch and Dune are still customers; after two
    # and three, of Birch and Cove (Dune is not that old), neither; at six only Cove's
    # months have passed (Birch's end on 20 Nov), and Cove left.
    assert by_plan["Starter"][:2] == (
        3, [(2, 3, 66.7), (0, 2, 0.0), (0, 2, 0.0), (0, 1, 0.0), (0, 0, None), (0, 0, None)]
    )  # fmt: skip
    assert by_plan["Business"][1][0] == (0, 0, None)
    by_segment = rows("segment")
    assert {label: size for label, (size, _, _) in by_segment.items()} == {"dental": 2, "hvac": 2, "No segment": 1}
    assert rows("path")  # every tenant on the default onboarding checklist
    assert sum(size for size, _, _ in rows("path").values()) == 5


def test_cohort_nrr_is_mrr_now_over_mrr_a_month_in(book):
    # Alma: active on Professional ($49) from 24 May, on Business ($99) from 1 Aug.
    alma = StripeStory(book["alma"], plan="professional")
    alma.status("active", at=utc(5, 24), event="customer.subscription.created")
    alma.status("active", at=utc(8, 1), plan="business")
    # Birch: Starter ($19) from 3 Jun, canceled 1 Jul. A month after signup (19 Jun): $19.
    birch = StripeStory(book["birch"], plan="starter")
    birch.status("active", at=utc(6, 3), event="customer.subscription.created")
    birch.status("canceled", at=utc(7, 1), event="customer.subscription.deleted")
    with time_machine.travel(NOW, tick=False):
        [may] = [c for c in cohorts(by="month", now=NOW) if c.key == "2026-05"]
    # Then $49 + $19 = $68, now $99: 99 / 68 = 145.6 %.
    assert (may.mrr_start_cents, may.mrr_now_cents, may.nrr) == (6800, 9900, 145.6)


def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months(utc(1, 31), 1) == utc(2, 28)
    assert add_months(utc(11, 18), 2) == datetime(2027, 1, 18, 12, tzinfo=UTC)
    assert add_months(utc(5, 10), -5) == datetime(2025, 12, 10, 12, tzinfo=UTC)


def test_the_page_groups_and_names_a_bad_grouping(client, cs_lead, book):
    client.force_login(cs_lead)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/admin/customer-success/reports/cohorts/").content.decode()
        bad = client.get("/admin/customer-success/reports/cohorts/?by=zodiac").content.decode()
    assert "<td>May 2026</td>" in page and "66.7 %<br><small>2 of 3</small>" in page
    assert "Still a customer after 3 months" in page  # May's signups are three months in
    assert "is not a way to group customers: showing signup months." in bad
