"""NPS surveys by signed link (issue 16): answerable on a phone without logging in, one answer
per link (a second visit sees the first answer), closed after SURVEY_LINK_MAX_AGE_DAYS with a
friendly page; the answer is an nps.submitted event — a detractor opens `nps_detractor` at
the next evaluation — and a promoter (9–10) is asked for a review on the thank-you page while
their CSM gets the testimonial ask as a task."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from playwright.sync_api import Page, expect

from playbooks.models import Task
from playbooks.templating import survey_token
from tenants.models import TimelineEntry

from .alert_helpers import NOW, alerts_of, evaluate, tenant_at
from .test_browser import browser_type_launch_args  # noqa: F401  (Debian's Chromium)

SHOTS = "docs/screenshots"


@pytest.fixture
def acme(db, csm):
    return tenant_at("acme", signed_up_at=NOW - timedelta(days=40), csm_owner=csm, name="Acme Dental")


def answer(client, token: str, score: int, comment: str = ""):
    return client.post(f"/survey/{token}/", {"score": str(score), "comment": comment})


@pytest.mark.django_db
def test_a_promoter_is_asked_for_a_review_and_their_csm_gets_the_ask(client, acme, csm, settings):
    settings.REVIEW_ASK_URL = "https://www.g2.com/products/cs-cockpit/take_survey"
    with time_machine.travel(NOW, tick=False):
        token = survey_token(acme.id)
        page = answer(client, token, 10, "Never miss a call now").content.decode()
        again = answer(client, token, 2).content.decode()
        revisit = client.get(f"/survey/{token}/").content.decode()

    assert "Would you tell others?" in page and 'href="https://www.g2.com/products/cs-cockpit/take_survey"' in page
    [task] = Task.objects.for_tenant(acme)
    assert task.title == "Ask Acme Dental for a review or testimonial (NPS 10)" and task.assignee == csm
    assert "Their words: “Never miss a call now”" in task.body and task.due_at == NOW + timedelta(days=3)
    assert TimelineEntry.objects.for_tenant(acme).filter(kind="advocacy.promoter").count() == 1
    # One answer per link: the second POST and a later visit see the first answer, no second ask.
    for html in (again, revisit):
        assert "Already answered — thank you" in html and "(10 out of 10)" in html
    assert Task.objects.for_tenant(acme).count() == 1


@pytest.mark.django_db
def test_a_passive_gets_thanks_only_and_a_detractor_opens_the_alert(client, acme):
    with time_machine.travel(NOW, tick=False):
        passive = answer(client, survey_token(acme.id), 8).content.decode()
        assert "Thank you!" in passive and "Would you tell others?" not in passive
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):  # another email's link
        answer(client, survey_token(acme.id), 3, "Calls drop at lunch")
    assert not Task.objects.for_tenant(acme).exists()
    evaluate(NOW + timedelta(minutes=2))
    [alert] = alerts_of(acme, "nps_detractor")
    assert alert.rationale == f"NPS 3 on {NOW:%-d %b}: “Calls drop at lunch”"  # the latest answer


@pytest.mark.django_db
def test_an_old_link_has_closed_and_says_so_kindly(client, acme):
    with time_machine.travel(NOW - timedelta(days=31), tick=False):
        token = survey_token(acme.id)
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"/survey/{token}/")
        posted = answer(client, token, 10)
    assert response.status_code == 410 and posted.status_code == 410
    assert "This survey has closed: its link was open for 30 days." in response.content.decode()
    assert not Task.objects.for_tenant(acme).exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_owner_answers_on_a_phone_and_a_promoter_sees_the_review_ask(page: Page, live_server, settings, csm):
    settings.REVIEW_ASK_URL = "https://www.capterra.com/reviews/new"
    tenant = tenant_at("harbor", signed_up_at=NOW - timedelta(days=40), csm_owner=csm, name="Harbor HVAC")
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(f"{live_server.url}/survey/{survey_token(tenant.id)}/")
    page.get_by_label("9", exact=True).check()
    page.get_by_label("What is the main reason for your score?").fill("Setup took ten minutes")
    page.screenshot(path=f"{SHOTS}/58-nps-survey-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", name="Would you tell others?")).to_be_visible()
    expect(page.get_by_role("link", name="Write a review")).to_have_attribute(
        "href", "https://www.capterra.com/reviews/new"
    )
    page.screenshot(path=f"{SHOTS}/59-nps-promoter-review-ask-phone.png", full_page=True)
    assert Task.objects.for_tenant(tenant).get().title == "Ask Harbor HVAC for a review or testimonial (NPS 9)"
