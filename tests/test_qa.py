"""The QA workspace (issue 15; seed 000 Day 7): a CSM opens the Day 7 task's link with the
tenant filled in, scores a handled call against the rubric (the score worked out by hand),
logs highlights, and turns action items into a task and a knowledge-base draft; the review is
on the tenant's page and timeline. Bad input names the field and writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from knowledge.models import Article
from playbooks.facts import facts_for_tenants
from playbooks.models import Task
from playbooks.templating import render
from qa.models import ActionItem, Review
from tenants.models import AuditLog, TimelineEntry

from .alert_helpers import NOW, ingest, tenant_at

pytestmark = pytest.mark.django_db
QA = "/admin/qa/"


@pytest.fixture(autouse=True)
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def acme(csm):
    tenant = tenant_at("acme", signed_up_at=NOW - timedelta(days=8), csm_owner=csm, name="Acme Dental")
    ingest(tenant, "call.handled", NOW - timedelta(days=1), caller="new patient")
    return tenant


def review_form(acme, **overrides) -> dict:
    call = acme_call(acme)
    data = {
        "tenant": "acme",
        "title": "New patient call",
        "event_id": str(call),
        "interaction_url": "",
        "score_greeting": "5",
        "score_understanding": "4",
        "score_accuracy": "3",
        "score_outcome": "4",
        "score_objections": "5",
        "highlights": "Booked in **90 s**; did not know the Saturday hours.",
    }
    return data | overrides


def acme_call(acme) -> int:
    from health.selectors import latest_events

    return latest_events(tenant=acme, name="call.handled")[0].id


def test_the_day_7_task_links_a_review_with_the_tenant_filled_in(client, csm, acme, settings):
    settings.SITE_URL = "https://cs.example.com"
    facts = facts_for_tenants([acme], now=timezone.now())[acme.id]
    assert render("{{ qa_review_url }}", facts) == "https://cs.example.com/admin/qa/new/?tenant=acme"
    client.force_login(csm)
    html = client.get(QA + "new/?tenant=acme").content.decode()
    assert "New QA review · Acme Dental" in html
    assert "call.handled" in html  # the call to pick, by its time and name
    assert 'name="score_accuracy"' in html


def test_a_review_scores_the_call_and_shows_on_the_tenant(client, csm, acme):
    client.force_login(csm)
    response = client.post(QA + "new/", review_form(acme))
    review = Review.objects.for_tenant(acme).get()
    assert response.status_code == 302 and response["Location"] == f"{QA}{review.id}/"
    # (5 + 4 + 3 + 4 + 5) / 5 = 4.2 on a 1–5 scale: (4.2 - 1) / 4 = 80 %.
    assert review.score == 80
    assert (review.event_name, review.interaction_at) == ("call.handled", NOW - timedelta(days=1))
    detail = client.get(f"{QA}{review.id}/").content.decode()
    assert "Booked in <strong>90 s</strong>" in detail and "Accurate answers" in detail
    entry = TimelineEntry.objects.for_tenant(acme).get(kind="qa.reviewed")
    assert entry.summary.endswith("New patient call — 80/100")
    assert AuditLog.objects.filter(action="qa.review", tenant=acme).count() == 1
    page = client.get("/admin/customer-success/tenants/acme/").content.decode()
    assert "Mean score <strong>80</strong>/100 over 1 review." in page


def test_action_items_become_a_task_and_a_knowledge_draft(client, csm, cs_lead, acme):
    client.force_login(cs_lead)
    client.post(QA + "new/", review_form(acme))
    review = Review.objects.for_tenant(acme).get()
    client.post(f"{QA}{review.id}/items/", {"text": "Add Saturday hours to the prompt", "becomes": "task"})
    client.post(f"{QA}{review.id}/items/", {"text": "How we answer weekend-hours questions", "becomes": "article"})
    task = Task.objects.for_tenant(acme).get()
    # The tenant's CSM does it (not the lead who reviewed), in two days.
    assert (task.title, task.assignee, task.due_at) == (
        "Add Saturday hours to the prompt",
        csm,
        NOW + timedelta(days=2),
    )
    assert "New patient call" in task.body
    draft = Article.objects.get(slug="how-we-answer-weekend-hours-questions")
    assert (draft.status, draft.audience, draft.tags) == ("draft", "internal", ["qa"])
    items = ActionItem.objects.for_tenant(acme).order_by("id")
    assert [(i.becomes, bool(i.task_id), bool(i.article_id)) for i in items] == [
        ("task", True, False),
        ("article", False, True),
    ]
    html = client.get(f"{QA}{review.id}/").content.decode()
    assert "knowledge-base draft" in html and "task for Casey Morgan" in html


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"event_id": "", "interaction_url": ""}, "Link the recording or transcript, or pick the event it was."),
        ({"event_id": "", "interaction_url": "javascript:alert(1)"}, "is not a web address (https://…)."),
        ({"event_id": "999999"}, "Acme Dental has no event 999999: pick one of its events."),
        ({"event_id": "abc"}, "“abc” is not an event."),
        ({"score_accuracy": ""}, "Score “Accurate answers” from 1 to 5."),
        ({"score_outcome": "9"}, "Score “Booked or routed” from 1 to 5."),
        ({"title": " "}, "Name what was reviewed"),
    ],
)
def test_a_bad_review_names_the_problem_and_keeps_the_form(client, csm, acme, overrides, error):
    client.force_login(csm)
    response = client.post(QA + "new/", review_form(acme, **overrides))
    assert response.status_code == 422
    html = response.content.decode()
    assert error in html
    assert "did not know the Saturday hours" in html  # what was typed stays
    assert not Review.all_tenants.exists()


def test_another_tenants_event_cannot_be_reviewed_under_this_tenant(client, csm, acme):
    other = tenant_at("birch", signed_up_at=NOW - timedelta(days=8))
    ingest(other, "call.handled", NOW - timedelta(hours=2))
    client.force_login(csm)
    response = client.post(QA + "new/", review_form(acme, event_id=str(acme_call(other))))
    assert response.status_code == 422 and "Acme Dental has no event" in response.content.decode()


def test_who_may_review_and_bad_tenants(client, billing_ops, csm, acme):
    client.force_login(csm)
    response = client.get(QA + "new/?tenant=nope")
    assert response.status_code == 422 and "There is no tenant “nope”." in response.content.decode()
    client.force_login(billing_ops)
    assert client.get(QA).status_code == 200
    assert client.post(QA + "new/", review_form(acme)).status_code == 403
    assert not Review.all_tenants.exists()


def test_the_qa_pages_run_the_same_queries_for_one_review_or_twelve(client, csm, acme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(csm)
    counts = {"list": [], "detail": []}
    for extra in (1, 11):
        for i in range(extra):
            client.post(QA + "new/", review_form(acme, title=f"Call {extra}-{i}"))
        # The newest review gets as many action items as there were reviews this round.
        review = Review.objects.for_tenant(acme).order_by("-id").first()
        for i in range(extra):
            client.post(f"{QA}{review.id}/items/", {"text": f"Follow up {extra}-{i}", "becomes": "task"})
        for name, url in (("list", QA), ("detail", f"{QA}{review.id}/")):
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            counts[name].append(len(ctx))
    assert counts["list"][0] == counts["list"][1]
    assert counts["detail"][0] == counts["detail"][1]


def test_the_new_review_form_runs_the_same_queries_for_one_event_or_fifty(client, csm, acme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(csm)
    counts = []
    for more in (0, 49):
        if more:
            ingest(acme, "call.handled", NOW - timedelta(hours=3), count=more)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(QA + "new/?tenant=acme").status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_qa_scores_feed_a_health_model_that_weighs_them(client, csm, cs_lead, acme):
    """Two reviews, 80 and 55, become qa.reviewed events; a model weighing the QA score alone
    reads their mean, 67.5, and scores it through its thresholds (60→50, 80→100: 68.75, shown
    as 68.8). The
    reviews are not the tenant's activity: last seen and active days do not move."""
    from health.components import SIGNALS
    from health.models import DailyRollup
    from health.scoring import facts_for, score_tenant
    from health.services import health_model_create_draft
    from tenants.models import Tenant

    seen_before = Tenant.objects.get(pk=acme.pk).last_seen_at
    client.force_login(csm)
    client.post(QA + "new/", review_form(acme))  # 80
    # (4 + 3 + 3 + 3 + 3) / 5 = 3.2 on the 1–5 scale: (3.2 - 1) / 4 = 55 %.
    low = {"score_greeting": "4", "score_understanding": "3", "score_accuracy": "3", "score_outcome": "3"}
    client.post(QA + "new/", review_form(acme, title="Second call", score_objections="3", **low))
    assert sorted(Review.objects.for_tenant(acme).values_list("score", flat=True)) == [55, 80]

    rollup = DailyRollup.all_tenants.get(tenant=acme, name="qa.reviewed")
    assert (rollup.count, rollup.value_sum, rollup.value_count) == (2, 135.0, 2)
    assert Tenant.objects.get(pk=acme.pk).last_seen_at == seen_before

    model = health_model_create_draft(
        name="QA only",
        components=[{"key": "qa_score", "weight": 100, "points": [[60, 50], [80, 100]]}],
        healthy_min=80,
        at_risk_min=60,
        notes="",
        actor=cs_lead,
        now=NOW,
    )
    facts = facts_for(tenant_ids=[acme.id], as_of=NOW)[acme.id]
    assert facts["active_days_7"] == 1  # the call a day ago; the reviews today are not activity
    score = score_tenant(model=model, facts=facts, tenure_days=8)
    [component] = score.components
    assert component["signal"] == 67.5 and component["score"] == 68.8  # 50 + 7.5 × 2.5, one decimal
    assert component["rationale"] == "67.5/100 on average over 2 QA reviews in the last 90 days (target 80)"
    assert SIGNALS["qa_score"].explain_no_data({}) == "No QA review of its interactions in the last 90 days"
