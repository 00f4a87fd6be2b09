"""The cockpit's playbook pages, the tenant page's touchpoints, tasks, the API's touchpoint
list, the owner's in-app messages and the NPS survey link."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from health.models import DailyRollup
from playbooks.models import Delivery, InAppMessage, Playbook, Run, Task
from playbooks.templating import survey_token
from tenants.models import ApiKey, AuditLog, Membership

from .conftest import tenant_user
from .test_billing_trial import AFTER_TRIAL
from .touchpoint_helpers import SIGNUP, hourly, new_york_tenant, tick_at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("alert_playbooks_off")]


@pytest.fixture
def harbor_after_day_3():
    tenant = new_york_tenant()
    for moment in hourly(SIGNUP, 4 * 24):
        tick_at(moment)
    return tenant


def test_playbook_list_and_detail_show_steps_versions_and_counts(client, csm, harbor_after_day_3):
    client.force_login(csm)
    page = client.get("/admin/customer-success/playbooks/").content.decode()
    assert "Onboarding, days 0–30" in page and "Dunning (past-due subscription)" in page
    detail = client.get("/admin/customer-success/playbooks/onboarding-30/").content.decode()
    assert "Day 3: Activation check" in detail and "usage_level == high" in detail
    assert "v1" in detail and "Edit" not in detail  # CSMs read; CS leads edit


def test_cs_lead_edits_a_playbook_a_broken_template_is_refused_with_its_line(client, cs_lead):
    client.force_login(cs_lead)
    url = "/admin/customer-success/playbooks/dunning/edit/"
    text = client.get(url).context["text"]

    bad = client.post(url, {"definition": text.replace("{{ portal_url }}", "{{ portal_link }}", 1)})
    assert bad.status_code == 400
    assert "unknown variable {{ portal_link }}" in bad.content.decode() and "line" in bad.content.decode()
    assert Playbook.objects.get(slug="dunning").current.number == 1

    good = client.post(url, {"definition": text.replace("didn't go through", "did not go through")})
    assert good.status_code == 302
    playbook = Playbook.objects.get(slug="dunning")
    assert playbook.current.number == 2 and "did not go through" in playbook.current.steps.first().subject
    assert AuditLog.objects.filter(action="playbook.version_create", actor=cs_lead).exists()

    renamed = client.post(url, {"definition": text.replace("slug: dunning", "slug: other")})
    assert renamed.status_code == 400 and "must stay “dunning”" in renamed.content.decode()


def test_preview_renders_every_step_for_the_chosen_tenant(client, cs_lead, harbor_after_day_3):
    client.force_login(cs_lead)
    text = client.get("/admin/customer-success/playbooks/onboarding-30/edit/").context["text"]
    response = client.post(
        "/admin/customer-success/playbooks/onboarding-30/preview/",
        {"definition": text, "tenant": harbor_after_day_3.id},
        headers={"HX-Request": "true"},
    )
    page = response.content.decode()
    assert "Preview for Harbor HVAC" in page
    assert "Welcome to CloudGreet, Dana — let&#x27;s get Harbor HVAC live today" in page
    assert "<html" not in page  # the partial only


def test_disabling_a_playbook_cancels_what_its_runs_had_left(client, cs_lead, harbor_after_day_3):
    client.force_login(cs_lead)
    client.post("/admin/customer-success/playbooks/onboarding-30/enabled/", {"enabled": "0"})

    run = Run.objects.for_tenant(harbor_after_day_3).get()
    assert run.status == Run.Status.CANCELLED and "disabled by cs-lead" in run.cancelled_reason
    left = Delivery.objects.for_tenant(harbor_after_day_3).filter(step__key="first-week-recap").get()
    assert left.status == Delivery.Status.CANCELLED
    assert AuditLog.objects.filter(action="playbook.disable").exists()


def test_the_tenant_page_shows_runs_next_touchpoints_and_reasons(client, csm, harbor_after_day_3):
    client.force_login(csm)
    page = client.get("/admin/customer-success/tenants/harbor/").content.decode()
    assert "Onboarding, days 0–30" in page and "1 to go" not in page
    assert "condition false: usage_level == high (it is low)" in page
    assert "Pause all touchpoints" in page and "Start a playbook" in page
    delivery = Delivery.objects.for_tenant(harbor_after_day_3).get(step__key="activation-high")
    why = client.get(f"/admin/customer-success/touchpoints/{delivery.id}/").content.decode()
    assert "usage_level == high" in why and "it was <strong>low</strong>" in why
    assert "with the templates of Onboarding, days 0–30 v1" in why  # the version's name, not its slug


def test_starting_a_playbook_by_hand_is_audited_and_refused_twice(client, csm, harbor_after_day_3):
    client.force_login(csm)
    url = "/admin/customer-success/tenants/harbor/playbooks/start/"
    client.post(url, {"playbook": "at-risk-recovery"})
    assert Run.objects.for_tenant(harbor_after_day_3).filter(playbook__slug="at-risk-recovery").count() == 1
    assert AuditLog.objects.filter(action="playbook.start", actor=csm).exists()
    again = client.post(url, {"playbook": "at-risk-recovery"}, follow=True).content.decode()
    assert "is already running for Harbor HVAC" in again


def test_a_csm_works_tasks_mine_and_queue(client, csm, harbor_after_day_3):
    harbor_after_day_3.csm_owner = csm
    harbor_after_day_3.save()
    task = Task.objects.for_tenant(harbor_after_day_3).first()
    task.assignee = csm
    task.save()
    client.force_login(csm)

    page = client.get("/admin/customer-success/tasks/?scope=mine").content.decode()
    assert task.title in page
    row = client.post(
        f"/admin/customer-success/tasks/{task.id}/complete/",
        {"note": "Booked for Thursday"},
        headers={"HX-Request": "true"},
    )
    assert "Booked for Thursday" in row.content.decode() and "<html" not in row.content.decode()
    task.refresh_from_db()
    assert task.status == Task.Status.DONE and task.completed_by == csm


def test_api_lists_touchpoints_and_another_tenants_key_gets_404(api, make_key, harbor_after_day_3, tenant_b):
    own = make_key(ApiKey.Scope.READ, tenant=harbor_after_day_3)
    response = api("get", "/api/v1/tenants/harbor/touchpoints/", key=own)
    assert response.status_code == 200
    rows = {r["step"]: r for r in response.json()}
    assert rows["welcome-email"]["status"] == "sent" and rows["welcome-email"]["day"] == 0
    assert rows["activation-high"] == {
        **rows["activation-high"],
        "status": "skipped",
        "reason": "condition false: usage_level == high (it is low) — one of the “Activation” variants, "
        "decided together at 5 Nov 14:00 UTC: “Activation low” goes instead",
        "channel": "email",
        "playbook": "onboarding-30",
    }
    assert rows["value-review"]["status"] == "scheduled" and rows["value-review"]["sent_at"] is None
    other = make_key(ApiKey.Scope.READ, tenant=tenant_b)
    assert api("get", "/api/v1/tenants/harbor/touchpoints/", key=other).status_code == 404


def test_in_app_message_shows_to_the_owner_until_dismissed_and_only_to_its_tenant(harbor_after_day_3, owner_b):
    owner = tenant_user(harbor_after_day_3, "dana", Membership.Role.OWNER)
    message = InAppMessage.objects.create(
        tenant=harbor_after_day_3,
        title="You are close to your plan's limit",
        body="Upgrade any time.",
        created_at=SIGNUP,
    )
    client = Client()
    client.force_login(owner)
    assert "You are close to your plan&#x27;s limit" in client.get("/account/").content.decode()

    other = Client()
    other.force_login(owner_b)
    assert other.post(f"/messages/{message.id}/dismiss/").status_code == 404  # another tenant's: 404
    assert client.post(f"/messages/{message.id}/dismiss/", headers={"HX-Request": "true"}).status_code == 200
    assert "close to your plan" not in client.get("/account/").content.decode()


def test_the_day_30_survey_link_records_an_nps_event_once(harbor_after_day_3):
    url = f"/survey/{survey_token(harbor_after_day_3.id)}/"
    client = Client()
    assert "How likely are you to recommend us?" in client.get(url).content.decode()
    assert client.post(url, {"score": "11"}).status_code == 400
    assert client.post(url, {"score": "9", "comment": "Saves us hours"}).status_code == 200
    client.post(url, {"score": "9"})  # the same link again: a duplicate, not a second vote
    rollup = DailyRollup.objects.for_tenant(harbor_after_day_3).get(name="nps.submitted")
    assert rollup.count == 1 and rollup.value_sum == 9


def test_value_review_email_carries_a_working_survey_link(harbor_after_day_3):
    for moment in hourly(SIGNUP + timedelta(days=30), 20):
        tick_at(moment)
    review = next(m for m in mail.outbox if m.subject.startswith("30 days of CloudGreet"))
    link = next(w for w in review.body.split() if "/survey/" in w).replace("http://localhost:8000", "")
    assert Client().get(link).status_code == 200


def test_the_dry_run_page_names_bad_input(client, csm, harbor_after_day_3):
    client.force_login(csm)
    url = "/admin/customer-success/playbooks/onboarding-30/simulate/"
    page = client.get(url, {"tenants": "harbor", "days": "7"})
    assert page.status_code == 200 and "<strong>1</strong> would start" in page.content.decode()
    bad = client.get(url, {"tenants": "harbor, nobody", "days": "abc"})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "Days must be a whole number from 1 to 120, not “abc”." in text
    assert "Unknown or churned tenant(s): nobody." in text


def test_a_stalled_onboarding_gets_a_screenshare_task_once(client, csm, harbor_after_day_3):
    client.force_login(csm)
    assert "Schedule screenshare" in client.get("/admin/customer-success/onboarding/").content.decode()
    url = "/admin/customer-success/tenants/harbor/tasks/screenshare/"

    first = client.post(url, follow=True).content.decode()
    again = client.post(url, follow=True).content.decode()

    assert "Task created for csm: Schedule a screenshare with Harbor HVAC" in first
    assert "already open" in again
    task = Task.objects.for_tenant(harbor_after_day_3).get(title__startswith="Schedule a screenshare")
    assert task.assignee == csm and AuditLog.objects.filter(action="task.create", target_id=str(task.id)).exists()


def test_every_trigger_is_raised_so_no_playbook_page_says_otherwise(client, csm, tmp_path):
    # Billing raises trial_converted (the first paid invoice, tests/test_billing_trial.py) and
    # the past-due trigger: neither page says “nothing raises this trigger”.
    (tmp_path / "after-trial.yaml").write_text(AFTER_TRIAL)
    call_command("load_playbooks", str(tmp_path), stdout=StringIO())
    client.force_login(csm)
    for slug in ("after-trial", "dunning"):
        page = client.get(f"/admin/customer-success/playbooks/{slug}/").content.decode()
        assert "after-trial" in page or slug == "dunning"
        assert "Nothing raises this trigger" not in page


def test_next_after_dismissing_or_completing_never_leaves_the_site(client, csm, harbor_after_day_3):
    client.force_login(csm)
    task = Task.objects.for_tenant(harbor_after_day_3).first()
    response = client.post(f"/admin/customer-success/tasks/{task.id}/complete/", {"next": "https://evil.example/x"})
    assert response.status_code == 302 and response.url == "/admin/customer-success/tasks/"


def test_the_dry_run_is_one_collapsed_line_per_tenant_a_page_at_a_time(client, csm, harbor_after_day_3):
    """30 tenants: the totals count all of them, the page lists 25, each a summary line with
    what its steps would do, the steps inside; page 2 has the other 5."""
    from .factories import TenantFactory

    for n in range(29):
        TenantFactory(external_id=f"dry-{n:02d}", name=f"Dry run tenant {n:02d}")
    client.force_login(csm)
    url = "/admin/customer-success/playbooks/onboarding-30/simulate/"
    html = client.get(url, {"days": "7"}).content.decode()
    assert "<strong>30</strong> tenant(s)" in html
    assert html.count('class="sim-tenant') == 25 and "1–25 of 30" in html
    assert re.search(r"<summary><strong>Dry run tenant 00</strong> — would start: send \d+", html)
    assert "Harbor HVAC" not in html  # by name, Harbor comes after the 29 “Dry run” tenants
    second = client.get(url, {"days": "7", "page": "2"}).content.decode()
    assert second.count('class="sim-tenant') == 5 and "26–30 of 30" in second
    assert re.search(r"<strong>Harbor HVAC</strong> — would (start|not start)", second)
