"""billing.revenue: MRR now, the monthly MRR bridge and past-due recovery, every history built
by feeding signed Stripe events through the real webhook service (never billing rows)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise

import pytest

from billing import payloads
from billing.models import Subscription
from billing.revenue import MonthRow, RecoveryHorizon, recovery_report, revenue_months, revenue_summary
from billing.webhooks import stripe_event_process
from tenants.models import HealthBucket, Tenant

from .factories import TenantFactory

SECRET = "whsec_test"
PRICES = {"starter": ("price_starter", 1900), "professional": ("price_pro", 4900), "business": ("price_business", 9900)}


@pytest.fixture(autouse=True)
def stripe_settings(settings) -> None:
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.STRIPE_PRICE_STARTER = "price_starter"
    settings.STRIPE_PRICE_PROFESSIONAL = "price_pro"
    settings.STRIPE_PRICE_BUSINESS = "price_business"


def at(month: int, day: int, hour: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def send(event_type: str, obj: dict, created: datetime) -> str:
    """One signed delivery (signed now: the SDK checks the signature's age against the clock)."""
    body = payloads.event_payload(event_type=event_type, obj=obj, created=created)
    result = stripe_event_process(payload=body, signature=payloads.signature_for(body, secret=SECRET), now=created)
    assert not result.duplicate
    return result.outcome


def sub(
    sub_id: str,
    *,
    tenant: Tenant | str | None,
    status: str,
    when: datetime,
    plan: str = "starter",
    quantity: int = 1,
    customer: str = "",
    event: str = "customer.subscription.updated",
) -> str:
    """A subscription event; `tenant` goes into metadata.tenant (a string names one that may not exist)."""
    external_id = tenant.external_id if isinstance(tenant, Tenant) else tenant
    price_id, amount = PRICES[plan]
    obj = payloads.subscription_object(
        subscription_id=sub_id,
        customer_id=customer or f"cus_{external_id or sub_id}",
        status=status,
        price_id=price_id,
        unit_amount=amount,
        period_start=when,
        tenant=external_id,
        quantity=quantity,
        canceled_at=when if status == "canceled" else None,
    )
    return send(event, obj, when)


def created(sub_id: str, **kwargs) -> str:
    return sub(sub_id, event="customer.subscription.created", **kwargs)


def deleted(sub_id: str, **kwargs) -> str:
    return sub(sub_id, status="canceled", event="customer.subscription.deleted", **kwargs)


def paid(sub_id: str, *, tenant: Tenant, when: datetime, amount: int = 1900) -> str:
    invoice = payloads.invoice_object(
        invoice_id=f"in_{sub_id}_{int(when.timestamp())}",
        customer_id=f"cus_{tenant.external_id}",
        subscription_id=sub_id,
        status="paid",
        amount_due=amount,
        created=when,
        tenant=tenant.external_id,
    )
    return send("invoice.paid", invoice, when)


def tenants(count: int) -> list[Tenant]:
    return [TenantFactory(external_id=f"t{i}") for i in range(count)]


# --- summary -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_summary_counts_mrr_arr_and_risk_once_per_subscription(django_assert_num_queries):
    active = TenantFactory(external_id="active", health_bucket=HealthBucket.HEALTHY)
    trial = TenantFactory(external_id="trial")
    late = TenantFactory(external_id="late", health_bucket=HealthBucket.HEALTHY)
    unhealthy = TenantFactory(external_id="unhealthy", health_bucket=HealthBucket.AT_RISK)
    both = TenantFactory(external_id="both", health_bucket=HealthBucket.CRITICAL)  # critical and past due
    gone = TenantFactory(external_id="gone", health_bucket=HealthBucket.CRITICAL)
    created("sub_active", tenant=active, status="active", plan="professional", when=at(9, 1))
    created("sub_trial", tenant=trial, status="trialing", plan="professional", when=at(9, 1))
    created("sub_late", tenant=late, status="active", when=at(9, 1))
    sub("sub_late", tenant=late, status="past_due", when=at(10, 1))
    created("sub_unhealthy", tenant=unhealthy, status="active", plan="business", when=at(9, 1))
    created("sub_both", tenant=both, status="past_due", plan="professional", when=at(9, 1))
    created("sub_gone", tenant=gone, status="active", when=at(9, 1))
    deleted("sub_gone", tenant=gone, when=at(9, 20))
    assert created("sub_nobody", tenant=None, status="active", plan="business", when=at(9, 1)) == "unmatched"

    with django_assert_num_queries(1):
        summary = revenue_summary(now=at(10, 15))

    assert summary.mrr_cents == 4900 + 1900 + 9900 + 4900
    assert summary.arr_cents == 12 * 21600
    assert summary.mrr_at_risk_cents == 1900 + 9900 + 4900  # late, unhealthy, both (once)
    assert summary.paying == 4
    assert summary.trialing == 1
    assert summary.past_due == 2
    assert summary.past_due_mrr_cents == 1900 + 4900
    assert summary.as_of == at(10, 15)


@pytest.mark.django_db
def test_summary_of_nothing_is_zero():
    summary = revenue_summary(now=at(10, 15))
    assert (summary.mrr_cents, summary.arr_cents, summary.mrr_at_risk_cents, summary.paying) == (0, 0, 0, 0)
    assert (summary.trialing, summary.past_due, summary.past_due_mrr_cents) == (0, 0, 0)


# --- months --------------------------------------------------------------------------------


def assert_bridges(rows: list[MonthRow]) -> None:
    for previous, row in pairwise(rows):
        assert row.start_mrr_cents == previous.end_mrr_cents
    for row in rows:
        moved = row.new_cents + row.expansion_cents - row.contraction_cents - row.churned_cents
        assert row.start_mrr_cents + moved == row.end_mrr_cents, row


@pytest.mark.django_db
def test_month_table_new_expansion_contraction_churn(django_assert_num_queries):
    t1, t2, t3, t4, t5, t6 = tenants(6)
    # Before the window (start of August: 1900 + 9900 + 3800 = 15600).
    created("sub_1", tenant=t1, status="active", when=at(7, 10))
    created("sub_2", tenant=t2, status="active", plan="business", when=at(7, 20))
    created("sub_3", tenant=t3, status="active", quantity=2, when=at(7, 25))
    # August: a trial bills nothing, an unmatched subscription is not ours.
    created("sub_4", tenant=t4, status="trialing", plan="professional", when=at(8, 15))
    created("sub_x", tenant="nobody", status="active", plan="business", when=at(8, 5))
    # September: t1 upgrades, t3 cancels, t4 converts at exactly 00:00 on the 1st (September's).
    sub("sub_4", tenant=t4, status="active", plan="professional", when=at(9, 1, hour=0))
    sub("sub_1", tenant=t1, status="active", plan="professional", when=at(9, 12))
    deleted("sub_3", tenant=t3, quantity=2, when=at(9, 20))
    # October: t2 downgrades, t5 signs up.
    sub("sub_2", tenant=t2, status="active", plan="professional", when=at(10, 5))
    created("sub_5", tenant=t5, status="active", when=at(10, 3))
    # November: t5 falls past due (still MRR), then is canceled; t6 starts after `now`.
    sub("sub_5", tenant=t5, status="past_due", when=at(11, 2))
    deleted("sub_5", tenant=t5, when=at(11, 10))
    created("sub_6", tenant=t6, status="active", plan="professional", when=at(11, 20))

    with django_assert_num_queries(1):
        rows = revenue_months(now=at(11, 15), months=4)

    assert [r.month for r in rows] == [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]
    assert rows == [
        MonthRow(date(2026, 8, 1), 15600, 0, 0, 0, 0, 15600),
        MonthRow(date(2026, 9, 1), 15600, 4900, 3000, 0, 3800, 19700),
        MonthRow(date(2026, 10, 1), 19700, 1900, 0, 5000, 0, 16600),
        MonthRow(date(2026, 11, 1), 16600, 0, 0, 0, 1900, 14700),
    ]
    assert_bridges(rows)
    aug, sep, oct_, nov = rows
    assert aug.grr == 1.0 and aug.nrr == 1.0
    assert sep.grr == pytest.approx((15600 - 3800) / 15600)  # 0.7564
    assert sep.nrr == pytest.approx((15600 + 3000 - 3800) / 15600)  # 0.9487
    assert oct_.grr == oct_.nrr == pytest.approx((19700 - 5000) / 19700)
    assert nov.grr == nov.nrr == pytest.approx((16600 - 1900) / 16600)


@pytest.mark.django_db
def test_a_tenant_replacing_its_subscription_moves_not_churns_and_returns():
    upgrader, downgrader = tenants(2)
    created("sub_u1", tenant=upgrader, status="active", when=at(9, 5))
    created("sub_d1", tenant=downgrader, status="active", plan="business", when=at(9, 6))
    # October: each cancels and starts a new subscription, on another plan, days later.
    deleted("sub_u1", tenant=upgrader, when=at(10, 10))
    created("sub_u2", tenant=upgrader, status="active", plan="professional", when=at(10, 12))
    deleted("sub_d1", tenant=downgrader, plan="business", when=at(10, 20))
    created("sub_d2", tenant=downgrader, status="active", when=at(10, 21))

    rows = revenue_months(now=at(10, 25), months=2)

    assert rows == [
        MonthRow(date(2026, 9, 1), 0, 11800, 0, 0, 0, 11800),
        MonthRow(date(2026, 10, 1), 11800, 0, 3000, 8000, 0, 6800),
    ]
    assert_bridges(rows)
    assert rows[0].grr is None and rows[0].nrr is None  # nothing to retain
    assert rows[1].grr == pytest.approx(3800 / 11800)
    assert rows[1].nrr == pytest.approx(6800 / 11800)
    assert revenue_summary(now=at(10, 25)).mrr_cents == rows[-1].end_mrr_cents


@pytest.mark.django_db
def test_a_tenant_that_leaves_and_comes_back_is_churn_then_new():
    (tenant,) = tenants(1)
    created("sub_a", tenant=tenant, status="active", when=at(8, 5))
    deleted("sub_a", tenant=tenant, when=at(9, 25))
    created("sub_b", tenant=tenant, status="active", plan="professional", when=at(10, 2))

    rows = revenue_months(now=at(10, 3), months=3)

    assert [(r.new_cents, r.churned_cents, r.end_mrr_cents) for r in rows] == [
        (1900, 0, 1900),
        (0, 1900, 0),
        (4900, 0, 4900),
    ]
    assert_bridges(rows)


@pytest.mark.django_db
def test_months_cross_the_year_and_are_empty_without_subscriptions():
    rows = revenue_months(now=datetime(2027, 2, 10, 8, tzinfo=UTC), months=4)
    assert [r.month for r in rows] == [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]
    assert all(r == MonthRow(r.month, 0, 0, 0, 0, 0, 0) and r.grr is None and r.nrr is None for r in rows)
    assert len(revenue_months(now=at(10, 3))) == 12


# --- recovery ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_recovery_report_shows_recoveries_after_day_14(django_assert_num_queries):
    t3, t20, t45, tc, topen, trecent = (
        TenantFactory(external_id=n) for n in ("d3", "d20", "d45", "c", "open", "recent")
    )
    for tenant in (t3, t20, t45, tc, topen, trecent):
        created(f"sub_{tenant.external_id}", tenant=tenant, status="active", when=at(7, 1, hour=0))
    # Recovered on day 3, by the invoice payment alone (the subscription's own update is lost).
    sub("sub_d3", tenant=t3, status="past_due", when=at(8, 1, hour=0))
    paid("sub_d3", tenant=t3, when=at(8, 4, hour=0))
    # Recovered on day 20.
    sub("sub_d20", tenant=t20, status="past_due", when=at(8, 5, hour=0))
    sub("sub_d20", tenant=t20, status="active", when=at(8, 25, hour=0))
    # Past due, then unpaid (the same episode), recovered on day 45.
    sub("sub_d45", tenant=t45, status="past_due", when=at(8, 10, hour=0))
    sub("sub_d45", tenant=t45, status="unpaid", when=at(8, 31, hour=0))
    sub("sub_d45", tenant=t45, status="active", when=at(9, 24, hour=0))
    # Canceled on day 25.
    sub("sub_c", tenant=tc, status="past_due", when=at(9, 1, hour=0))
    deleted("sub_c", tenant=tc, when=at(9, 26, hour=0))
    # Still open, 14 days old at `now`.
    sub("sub_open", tenant=topen, status="past_due", when=at(11, 1, hour=0))
    # Recovered on day 2, but only 5 days old: too young for every horizon.
    sub("sub_recent", tenant=trecent, status="past_due", when=at(11, 10, hour=0))
    paid("sub_recent", tenant=trecent, when=at(11, 12, hour=0))
    # Not ours: an unmatched subscription's episode.
    created("sub_x", tenant=None, status="active", when=at(7, 1))
    sub("sub_x", tenant=None, status="past_due", when=at(8, 1))
    sub("sub_x", tenant=None, status="active", when=at(8, 2))
    # After `now`: not known yet, so the open episode stays open.
    sub("sub_open", tenant=topen, status="active", when=at(11, 20, hour=0))

    now = at(11, 15, hour=0)
    with django_assert_num_queries(1):
        report = recovery_report(now=now)

    assert (report.episodes, report.open, report.recovered, report.canceled) == (6, 1, 4, 1)
    assert report.recovered_after_day_14 == 2  # day 20 and day 45
    assert report.late_share == 0.5
    assert report.horizons == (
        RecoveryHorizon(days=7, eligible=5, recovered=1),  # started by 8 Nov; day 3 only
        RecoveryHorizon(days=14, eligible=5, recovered=1),  # the open one is exactly 14 days old
        RecoveryHorizon(days=30, eligible=4, recovered=2),  # + day 20
        RecoveryHorizon(days=60, eligible=4, recovered=3),  # + day 45
    )
    assert [h.rate for h in report.horizons] == [0.2, 0.2, 0.5, 0.75]
    # Recovered within N days includes day N itself: day 3 and day 2 within 3, of all six.
    assert recovery_report(now=now, horizons=(3, 365)).horizons == (
        RecoveryHorizon(days=3, eligible=6, recovered=2),
        RecoveryHorizon(days=365, eligible=0, recovered=0),
    )
    assert recovery_report(now=now, horizons=(365,)).horizons[0].rate is None


@pytest.mark.django_db
def test_recovery_report_without_episodes():
    (tenant,) = tenants(1)
    created("sub_fine", tenant=tenant, status="active", when=at(7, 1))
    report = recovery_report(now=at(11, 1))
    assert (report.episodes, report.open, report.recovered, report.canceled, report.recovered_after_day_14) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert report.late_share is None
    assert [(h.days, h.eligible, h.rate) for h in report.horizons] == [
        (7, 0, None),
        (14, 0, None),
        (30, 0, None),
        (60, 0, None),
    ]


# --- unmatched -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_unmatched_subscriptions_count_nowhere(tenant_a):
    # No metadata.tenant and a customer no tenant owns; a metadata.tenant that names no tenant.
    assert created("sub_anon", tenant=None, customer="cus_unknown", status="active", when=at(9, 1)) == "unmatched"
    assert created("sub_ghost", tenant="ghost", status="active", plan="business", when=at(9, 2)) == "unmatched"
    sub("sub_anon", tenant=None, customer="cus_unknown", status="past_due", when=at(9, 10))
    sub("sub_anon", tenant=None, customer="cus_unknown", status="active", when=at(9, 12))
    deleted("sub_ghost", tenant="ghost", plan="business", when=at(10, 2))
    created("sub_acme", tenant=tenant_a, status="active", plan="professional", when=at(9, 3))
    assert Subscription.all_tenants.filter(tenant=None).count() == 2

    summary = revenue_summary(now=at(10, 15))
    rows = revenue_months(now=at(10, 15), months=2)
    report = recovery_report(now=at(10, 15))

    assert (summary.mrr_cents, summary.paying, summary.past_due) == (4900, 1, 0)
    assert rows == [
        MonthRow(date(2026, 9, 1), 0, 4900, 0, 0, 0, 4900),
        MonthRow(date(2026, 10, 1), 4900, 0, 0, 0, 0, 4900),
    ]
    assert report.episodes == 0


def test_the_revenue_page_charts_each_months_ending_mrr(client, billing_ops):
    """With no subscription, every one of the 12 months ends at $0, written on its column."""
    client.force_login(billing_ops)
    html = client.get("/admin/billing/revenue/").content.decode()
    chart = html[html.index('aria-labelledby="mrr-caption"') : html.index("</svg>", html.index("mrr-caption"))]
    assert chart.count('class="bar"') == 12 and chart.count(">$0</text>") >= 12
