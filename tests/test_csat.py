"""The post-resolution survey (issue 16 §2, seed 001 "CSAT survey after every ticket"): a
resolved ticket gets one email to the owner with a signed 1–5 link, sent by the tick through
the outbox; no login, one answer per link, closed after SURVEY_LINK_MAX_AGE_DAYS; the answer
is a csat.submitted event (the monthly report's CSAT); a low rating gives the CSM a task, a
happy one sees the review ask."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from django.core import mail
from playwright.sync_api import Page, expect

from health.models import Event
from lifecycle.csat import csat_asks_send, csat_token
from lifecycle.models import CsatAsk
from lifecycle.reports import monthly_report
from playbooks.models import Task, TouchpointPause
from tenants.models import TimelineEntry

from .alert_helpers import NOW, ingest, tenant_at
from .test_browser import browser_type_launch_args  # noqa: F401  (Debian's Chromium)
from .touchpoint_helpers import tick_at

SHOTS = "docs/screenshots"
MINUTE = timedelta(minutes=1)


@pytest.fixture
def acme(db, csm):
    return tenant_at("acme", signed_up_at=NOW - timedelta(days=40), csm_owner=csm, name="Acme Dental",
                     owner_name="Dana Reyes", owner_email="dana@acme.example")  # fmt: skip


def resolve(tenant, ticket_id: str, at) -> None:
    ingest(tenant, "ticket.created", at - timedelta(hours=3), ticket_id=ticket_id)
    ingest(tenant, "ticket.resolved", at, ticket_id=ticket_id)


def answer(client, link: str, score, comment: str = ""):
    return client.post(link, {"score": str(score), "comment": comment})


@pytest.mark.django_db
def test_a_resolved_ticket_gets_one_survey_email(client, acme, settings):
    resolve(acme, "T-100", NOW - timedelta(hours=1))
    ingest(acme, "ticket.resolved", NOW - timedelta(minutes=30), ticket_id="T-100")  # resolved again

    for minute in range(3):  # the tick asks (order 47), the next one's outbox sends (order 43)
        tick_at(NOW + minute * MINUTE)

    [email] = [m for m in mail.outbox if "How did we do" in m.subject]
    assert email.to == ["dana@acme.example"] and email.subject == "How did we do with T-100?"
    assert email.body.startswith("Hi Dana,\n\nYour support request T-100 was resolved.")
    assert "/survey/csat/" in email.body and "Unsubscribe:" in email.body
    assert email.extra_headers["List-Unsubscribe"].startswith("<http")
    assert CsatAsk.objects.for_tenant(acme).get().ticket_id == "T-100"
    # The link in the email opens the survey, without a login.
    path = email.body.split(settings.SITE_URL.rstrip("/"))[1].split()[0]
    with time_machine.travel(NOW + 3 * MINUTE, tick=False):
        html = client.get(path).content.decode()
    assert "How satisfied are you with the help you got?" in html and "Acme Dental · support request T-100" in html


@pytest.mark.django_db
def test_old_tickets_and_paused_tenants_are_not_surveyed(acme, csm):
    resolve(acme, "T-old", NOW - timedelta(days=3))  # before the two days' window
    paused = tenant_at("quiet", signed_up_at=NOW - timedelta(days=40), name="Quiet Co")
    TouchpointPause.objects.create(tenant=paused, paused_at=NOW - timedelta(days=1), paused_by=csm)
    resolve(paused, "Q-1", NOW - timedelta(hours=1))

    assert csat_asks_send(now=NOW) == 0
    assert csat_asks_send(now=NOW + MINUTE) == 0
    assert not CsatAsk.objects.for_tenant(acme).exists()
    assert CsatAsk.objects.for_tenant(paused).get().skipped == "touchpoints paused"


@pytest.mark.django_db
def test_a_low_rating_gives_the_csm_a_task_and_one_answer_per_link(client, acme, csm):
    with time_machine.travel(NOW, tick=False):
        link = f"/survey/csat/{csat_token(tenant_id=acme.id, ticket_id='T-7')}/"
        done = answer(client, link, 2, "Took three days").content.decode()
        again = answer(client, link, 5).content.decode()
        revisit = client.get(link).content.decode()

    assert "Thank you!" in done and "Glad we could help" not in done
    [task] = Task.objects.for_tenant(acme)
    assert task.title == "Acme Dental rated support 2/5 on T-7: follow up" and task.assignee == csm
    assert "Their words: “Took three days”" in task.body
    assert TimelineEntry.objects.for_tenant(acme).get(kind="support.csat").summary == (
        "CSAT 2/5 for ticket T-7: “Took three days”"
    )
    for html in (again, revisit):
        assert "Already answered — thank you" in html and "(2 out of 5)" in html
    [event] = Event.objects.for_tenant(acme).filter(name="csat.submitted")
    assert event.properties == {"score": 2, "comment": "Took three days", "ticket_id": "T-7", "source": "survey"}


@pytest.mark.django_db
@pytest.mark.parametrize("score", ["0", "6", "great", ""])
def test_a_score_outside_one_to_five_is_refused_with_the_reason(client, acme, score):
    with time_machine.travel(NOW, tick=False):
        response = answer(client, f"/survey/csat/{csat_token(tenant_id=acme.id, ticket_id='T-7')}/", score)
    assert response.status_code == 400
    assert "Pick a score from 1 (very unsatisfied) to 5 (very satisfied)." in response.content.decode()
    assert not Event.objects.for_tenant(acme).filter(name="csat.submitted").exists()


@pytest.mark.django_db
def test_an_expired_or_forged_link_says_so_kindly(client, acme):
    with time_machine.travel(NOW - timedelta(days=31), tick=False):
        old = f"/survey/csat/{csat_token(tenant_id=acme.id, ticket_id='T-7')}/"
    with time_machine.travel(NOW, tick=False):
        expired = client.get(old)
        posted = answer(client, old, 5)
        forged = client.get("/survey/csat/not-a-token/")
    assert expired.status_code == 410 and posted.status_code == 410
    assert "This survey has closed: its link was open for 30 days." in expired.content.decode()
    assert forged.status_code == 400 and "This survey link is not valid." in forged.content.decode()
    assert not Event.objects.for_tenant(acme).filter(name="csat.submitted").exists()


@pytest.mark.django_db
def test_the_monthly_reports_csat_is_the_mean_of_the_answers(client, acme):
    # Answers 2, 5 and 4 in November, 1 in October: November's CSAT is (2 + 5 + 4) / 3 = 3.67.
    for ticket, score, at in (("A", 2, NOW), ("B", 5, NOW), ("C", 4, NOW), ("D", 1, NOW - timedelta(days=30))):
        with time_machine.travel(at, tick=False):
            answer(client, f"/survey/csat/{csat_token(tenant_id=acme.id, ticket_id=ticket)}/", score)
    report = monthly_report(month=date(2026, 11, 1), now=NOW + MINUTE)
    assert (report.csat, report.csat_count) == (3.67, 3)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_owner_rates_support_on_a_phone_and_sees_the_review_ask(page: Page, live_server, settings, csm):
    settings.REVIEW_ASK_URL = "https://www.g2.com/products/cloudgreet/take_survey"
    tenant = tenant_at("harbor", signed_up_at=NOW - timedelta(days=40), csm_owner=csm, name="Harbor HVAC")
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(f"{live_server.url}/survey/csat/{csat_token(tenant_id=tenant.id, ticket_id='H-12')}/")
    expect(page.get_by_role("heading", name="How satisfied are you with the help you got?")).to_be_visible()
    page.get_by_label("5 · Very satisfied").check()
    page.get_by_label("Anything we should know?").fill("Fixed before lunch")
    page.screenshot(path=f"{SHOTS}/62-csat-survey-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", name="Glad we could help")).to_be_visible()
    expect(page.get_by_role("link", name="Write a review")).to_have_attribute(
        "href", "https://www.g2.com/products/cloudgreet/take_survey"
    )
    page.screenshot(path=f"{SHOTS}/63-csat-review-ask-phone.png", full_page=True)
    assert Event.objects.for_tenant(tenant).get(name="csat.submitted").properties["score"] == 5
    assert not Task.objects.for_tenant(tenant).exists()
