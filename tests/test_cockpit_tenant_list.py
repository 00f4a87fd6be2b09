import re
from datetime import UTC, datetime, timedelta

import pytest

from tenants.models import Tenant

from .factories import TenantFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/admin/customer-success/tenants/"


def names_on(response) -> list[str]:
    return re.findall(r"<td><a href=\"[^\"]*\"><strong>(.*?)</strong>", response.content.decode())


@pytest.fixture
def portfolio(csm):
    other_csm = UserFactory(username="jonas", first_name="Jonas", last_name="Berg")
    start = datetime(2026, 9, 1, tzinfo=UTC)
    TenantFactory(
        name="Harbor HVAC",
        plan=Tenant.Plan.BUSINESS,
        segment="Home services",
        csm_owner=csm,
        owner_email="dana@harbor.example",
        signed_up_at=start,
    )
    TenantFactory(
        name="Maple Dental",
        plan=Tenant.Plan.STARTER,
        segment="Dental clinics",
        csm_owner=other_csm,
        signed_up_at=start + timedelta(days=10),
    )
    TenantFactory(
        name="Cedar Law Group",
        plan=Tenant.Plan.PROFESSIONAL,
        segment="Law firms",
        signed_up_at=start + timedelta(days=20),
    )
    return csm


def test_staff_see_every_tenant_sorted_by_name(client, portfolio):
    client.force_login(portfolio)
    response = client.get(URL)
    assert response.status_code == 200
    assert names_on(response) == ["Cedar Law Group", "Harbor HVAC", "Maple Dental"]
    assert "3 tenants" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?q=harbor", ["Harbor HVAC"]),
        ("?q=DANA@harbor", ["Harbor HVAC"]),  # owner email, case-insensitive
        ("?plan=starter", ["Maple Dental"]),
        ("?segment=Law+firms", ["Cedar Law Group"]),
        ("?csm=none", ["Cedar Law Group"]),
        ("?sort=-signed_up_at", ["Cedar Law Group", "Maple Dental", "Harbor HVAC"]),
        ("?sort=-name", ["Maple Dental", "Harbor HVAC", "Cedar Law Group"]),
        ("?plan=gold&sort=drop+table", ["Cedar Law Group", "Harbor HVAC", "Maple Dental"]),  # junk ignored
        ("?q=nobody", []),
    ],
)
def test_search_filter_and_sort(client, portfolio, query, expected):
    client.force_login(portfolio)
    assert names_on(client.get(URL + query)) == expected


def test_filter_by_onboarding_stage(client, csm, tenant_a, tenant_b):
    from onboarding.models import TenantOnboarding

    TenantOnboarding.objects.for_tenant(tenant_b).update(stalled_since=tenant_b.signed_up_at)
    TenantFactory(name="Legacy Co")
    client.force_login(csm)
    assert names_on(client.get(URL + "?onboarding=stalled")) == ["Globex Dental"]
    assert names_on(client.get(URL + "?onboarding=in_progress")) == ["Acme Plumbing"]
    assert names_on(client.get(URL + "?onboarding=not_started")) == ["Legacy Co"]
    assert names_on(client.get(URL + "?onboarding=complete")) == []


def test_filter_by_csm(client, portfolio):
    client.force_login(portfolio)
    assert names_on(client.get(f"{URL}?csm={portfolio.pk}")) == ["Harbor HVAC"]


def test_empty_result_says_so(client, portfolio):
    client.force_login(portfolio)
    assert "No tenant matches these filters." in client.get(URL + "?q=nobody").content.decode()


def test_pages_of_25_keep_the_filters(client, csm):
    TenantFactory.create_batch(30, plan=Tenant.Plan.BUSINESS)
    TenantFactory.create_batch(5, plan=Tenant.Plan.STARTER)
    client.force_login(csm)

    first = client.get(URL + "?plan=business").content.decode()
    second = client.get(URL + "?plan=business&page=2")

    assert len(names_on(client.get(URL + "?plan=business"))) == 25
    assert "page 1 of 2" in first
    assert 'href="?plan=business&amp;page=2"' in first
    assert len(names_on(second)) == 5


def test_htmx_request_gets_only_the_table(client, portfolio):
    client.force_login(portfolio)
    response = client.get(URL + "?q=maple", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="tenant-table">')
    assert "<html" not in body
    assert names_on(response) == ["Maple Dental"]


def test_tenant_users_are_refused_and_anonymous_sent_to_login(client, owner_a):
    assert client.get(URL).url.startswith("/login/?next=")
    client.force_login(owner_a)
    assert client.get(URL).status_code == 403


def test_query_count_does_not_grow_with_tenants(client, csm, django_assert_num_queries):
    TenantFactory.create_batch(40, csm_owner=csm)
    client.force_login(csm)
    # session, user, staff roles, the funnel's steps, count, page of tenants (CSM joined),
    # segments, CSM choices
    with django_assert_num_queries(8):
        assert client.get(URL).status_code == 200


def test_the_billing_filter_lists_past_due_tenants_and_trials_ending_this_week(client, csm):
    from datetime import timedelta

    from django.utils import timezone

    from billing.models import Subscription, Trial

    from .factories import TenantFactory

    now = timezone.now()
    late = TenantFactory(external_id="late", name="Late Payer Dental")
    ending = TenantFactory(external_id="ending", name="Ending Trial HVAC")
    later = TenantFactory(external_id="later", name="Later Trial Law")
    Subscription.all_tenants.create(
        tenant=late, stripe_id="sub_late", status="unpaid", state_at=now, created_at=now, updated_at=now
    )
    for tenant, days in ((ending, 2), (later, 12)):
        Trial.all_tenants.create(
            tenant=tenant,
            plan="starter",
            started_at=now,
            ends_at=now + timedelta(days=days),
            created_at=now,
            updated_at=now,
        )
    client.force_login(csm)
    past_due = client.get("/admin/customer-success/tenants/?billing=past_due").content.decode()
    assert "Late Payer Dental" in past_due and "Ending Trial HVAC" not in past_due
    trials = client.get("/admin/customer-success/tenants/?billing=trial_ending").content.decode()
    assert "Ending Trial HVAC" in trials and "Later Trial Law" not in trials and "Late Payer" not in trials
    anything = client.get("/admin/customer-success/tenants/?billing=bogus&plan=gold").content.decode()
    assert "Later Trial Law" in anything
    assert "“bogus” is not a billing filter; it was ignored." in anything
    assert "“gold” is not a plan filter; it was ignored." in anything
