"""Renewals (issue 16, seed 002's 120-day runway): a contract end date per tenant, set on its
page (audited; a past date on a live contract is a form error), and from 120 days out one CSM
task per step — health review at 120, QBR at 90, proposal at 60, signature at 30 — made by the
tick on its day, once. The home's renewals tile counts the tenant list it opens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine

from lifecycle.models import RenewalStep
from lifecycle.renewals import renewal_runway_advance
from playbooks.models import Task
from tenants.models import AuditLog, Tenant, TimelineEntry

from .alert_helpers import NOW, tenant_at
from .touchpoint_helpers import tick_at

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def task_titles(tenant: Tenant) -> list[str]:
    return list(
        Task.objects.for_tenant(tenant)
        .filter(title__startswith="Renewal")
        .order_by("id")
        .values_list("title", flat=True)
    )


def test_the_tick_walks_the_runway_and_makes_each_task_on_its_day(csm):
    # The contract ends 125 days after NOW (23 Mar 2027): 120 days before is NOW + 5 days.
    tenant = tenant_at("acme", signed_up_at=NOW - 300 * DAY, csm_owner=csm, onboarding=False, name="Acme Dental")
    tenant.contract_ends_on = (NOW + 125 * DAY).date()
    tenant.save(update_fields=["contract_ends_on"])
    expected_by_day = {
        0: [],  # 125 days left
        4: [],  # 121
        5: ["Renewal in 120 days: health review for Acme Dental"],
        6: [],
        34: [],  # 91 days left
        35: ["Renewal in 90 days: QBR with Acme Dental"],
        65: ["Renewal in 60 days: send Acme Dental the renewal proposal"],
        94: [],
        95: ["Renewal in 30 days: get Acme Dental's signature"],
        125: [],  # the last day of the contract: nothing more
        126: [],  # ended
    }
    made: list[str] = []
    for day, new in expected_by_day.items():
        tick_at(NOW + day * DAY)
        tick_at(NOW + day * DAY)  # every tick twice: nothing twice
        made += new
        assert task_titles(tenant) == made, f"day {day}"

    tasks = Task.objects.for_tenant(tenant).filter(title__startswith="Renewal").order_by("id")
    assert {t.assignee_id for t in tasks} == {csm.id} and {t.role for t in tasks} == {"csm"}
    health_review = tasks[0]
    assert health_review.due_at == NOW + 12 * DAY  # a week after its day
    assert "The contract ends on 23 Mar 2027" in health_review.body
    assert list(RenewalStep.objects.for_tenant(tenant).order_by("id").values_list("days_before", flat=True)) == [
        120, 90, 60, 30
    ]  # fmt: skip
    assert TimelineEntry.objects.for_tenant(tenant).filter(kind="renewal.step").count() == 4


def test_a_date_set_late_starts_at_its_step_and_a_renewal_starts_a_new_runway(csm):
    tenant = tenant_at("late", signed_up_at=NOW - 300 * DAY, csm_owner=csm, onboarding=False, name="Late Co")
    tenant.contract_ends_on = (NOW + 45 * DAY).date()  # the health review and QBR moments passed
    tenant.save(update_fields=["contract_ends_on"])

    assert renewal_runway_advance(now=NOW) == 1
    assert task_titles(tenant) == ["Renewal in 60 days: send Late Co the renewal proposal"]
    assert renewal_runway_advance(now=NOW) == 0

    # Renewed for a year: a new end date, a new runway from its own 120 days.
    tenant.contract_ends_on = (NOW + 365 * DAY).date()
    tenant.save(update_fields=["contract_ends_on"])
    assert renewal_runway_advance(now=NOW + 244 * DAY) == 0  # 121 days left
    assert renewal_runway_advance(now=NOW + 245 * DAY) == 1
    assert task_titles(tenant)[-1] == "Renewal in 120 days: health review for Late Co"


def test_churned_and_undated_tenants_get_no_runway(csm):
    gone = tenant_at("gone", signed_up_at=NOW - 300 * DAY, onboarding=False, lifecycle_stage="churned")
    gone.contract_ends_on = (NOW + 100 * DAY).date()
    gone.save(update_fields=["contract_ends_on"])
    tenant_at("open", signed_up_at=NOW - 300 * DAY, onboarding=False)

    assert renewal_runway_advance(now=NOW) == 0
    assert not RenewalStep.all_tenants.exists()


@pytest.fixture
def contract_page(client, csm):
    """Acme's cockpit page, for a CSM. (Not named `page`: that is Playwright's fixture, and
    pytest-playwright would parametrize these tests by browser and move them among the browser
    tests, after the transactional ones that empty the database.)"""
    tenant = tenant_at("acme", signed_up_at=NOW - 300 * DAY, csm_owner=csm, onboarding=False)
    client.force_login(csm)
    with time_machine.travel(NOW, tick=False):
        yield tenant


def post_date(client, value: str):
    return client.post("/admin/customer-success/tenants/acme/contract/", {"contract_ends_on": value}, follow=True)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("2026-11-17", "17 Nov 2026 is in the past: a live contract ends today or later."),
        ("2032-01-01", "1 Jan 2032 is more than five years away."),
        ("next spring", "“next spring” is not a date (YYYY-MM-DD)."),
        ("2026-02-30", "“2026-02-30” is not a date (YYYY-MM-DD)."),
    ],
)
def test_a_bad_contract_date_is_a_clear_error_and_nothing_is_written(client, contract_page, value, error):
    html = post_date(client, value).content.decode()
    assert error in html.replace("&#x27;", "'").replace("&quot;", '"')
    assert Tenant.objects.get(pk=contract_page.pk).contract_ends_on is None
    assert not AuditLog.objects.filter(action="tenant.contract_end").exists()


def test_staff_set_the_date_on_the_tenant_page_audited_and_on_the_timeline(client, contract_page, csm):
    html = post_date(client, "2027-03-18").content.decode()

    assert "contract ends on 18 Mar 2027" in html and "renews in 120 days" in html
    log = AuditLog.objects.get(action="tenant.contract_end")
    assert log.actor == csm and log.before["contract_ends_on"] is None
    assert log.after["contract_ends_on"] == "2027-03-18"
    assert TimelineEntry.objects.for_tenant(contract_page).filter(kind="tenant.contract_end").get().summary == (
        "Contract ends 18 Mar 2027"
    )
    post_date(client, "2027-03-18")  # the same date: nothing more written
    assert AuditLog.objects.filter(action="tenant.contract_end").count() == 1
    assert "No contract end date" in post_date(client, "").content.decode()  # cleared


def test_the_homes_renewals_tile_counts_the_list_it_opens(client, csm):
    book = {
        "soon": 100,  # within 120 days: counted
        "later": 200,  # not yet
        "today": 0,  # ends today: counted
    }
    for external_id, days in book.items():
        tenant = tenant_at(external_id, signed_up_at=NOW - 300 * DAY, csm_owner=csm, onboarding=False)
        tenant.contract_ends_on = (NOW + days * DAY).date()
        tenant.save(update_fields=["contract_ends_on"])
    gone = tenant_at("gone", signed_up_at=NOW - 300 * DAY, csm_owner=csm, onboarding=False, lifecycle_stage="churned")
    gone.contract_ends_on = (NOW + 50 * DAY).date()
    gone.save(update_fields=["contract_ends_on"])
    client.force_login(csm)

    with time_machine.travel(NOW, tick=False):
        home = client.get("/admin/customer-success/").content.decode()
        link = f"/admin/customer-success/tenants/?renewal=120&amp;csm={csm.id}"
        assert f'<span class="label">Renewals within 120 days</span><strong><a href="{link}">2</a>' in home
        listed = client.get(link.replace("&amp;", "&")).content.decode()
    # The contract that ends first leads, with its end date in its own column.
    table = listed.split('id="tenant-table"')[1]
    assert re.findall(r"/tenants/([a-z]+)/", table) == ["today", "soon"]
    assert "Contract ends</a></th>" in table and f">{(NOW + 100 * DAY):%-d %b %Y}</time></td>" in table
