"""Onboarding as the owner and the CSM live it: signup, the wizard, events, staff, stalls."""

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command

from health.ingest import events_ingest
from onboarding.models import MilestoneProgress, TenantOnboarding
from onboarding.selectors import checklist_for, funnel_for
from tenants.models import ApiKey, AuditLog, Membership, Tenant, TimelineEntry

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def signup_data(**overrides):
    return {
        "company_name": "Harbor HVAC",
        "owner_name": "Dana Smith",
        "email": "dana@harbor.example",
        "password": "a-long-unusual-passphrase",
        "phone": "",
        "plan": "professional",
        "business_type": "Home services",
        "timezone": "America/New_York",
        **overrides,
    }


@pytest.fixture
def sign_up(django_capture_on_commit_callbacks):
    """Posts the signup form; the emails that go out after its transaction commits are sent."""

    def post(client, **overrides):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/signup/", signup_data(**overrides))

    return post


def tick(at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        call_command("tick", "--at", at.isoformat(), stdout=StringIO())


def test_signup_creates_owner_tenant_onboarding_and_lands_in_the_wizard(client, sign_up):
    response = sign_up(client)

    assert response.status_code == 302 and response.url == "/onboarding/"
    tenant = Tenant.objects.get(name="Harbor HVAC")
    assert (tenant.plan, tenant.timezone, tenant.segment, tenant.signed_up_at) == (
        "professional",
        "America/New_York",
        "Home services",
        NOW,
    )
    owner = Membership.all_tenants.get(tenant=tenant)
    assert owner.role == "owner" and owner.user.email == "dana@harbor.example"
    onboarding = TenantOnboarding.objects.for_tenant(tenant).get()
    assert onboarding.template.slug == "voice-receptionist" and onboarding.started_at == NOW
    # The link is in the inbox: the wizard starts with what the owner can do right now.
    assert client.get("/onboarding/").url == "/onboarding/step/connect_calendar/"
    assert mail.outbox[0].to == ["dana@harbor.example"] and "/onboarding/verify/" in mail.outbox[0].body


def test_other_business_types_get_the_generic_template(client, sign_up):
    sign_up(client, business_type="")
    assert TenantOnboarding.all_tenants.get().template.slug == "generic-saas"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"password": "password"}, "password", "too common"),
        ({"phone": "555-0123"}, "phone", "E.164"),
        ({"phone": "+14155550123"}, "sms_consent", "Tick this"),
        ({"company_name": "    "}, "company_name", "This field is required"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"timezone": "Mars/Base"}, "timezone", "not a time zone on the list"),
        ({"timezone": "Factory"}, "timezone", "not a time zone on the list"),
    ],
)
def test_bad_signup_shows_the_error_beside_the_field_and_creates_nothing(client, overrides, field, message, sign_up):
    response = sign_up(client, **overrides)

    assert response.status_code == 422
    assert message in str(response.context["form"].errors[field])
    assert not Tenant.objects.exists() and not get_user_model().objects.filter(email__contains="harbor").exists()


def test_signup_with_an_existing_email_is_refused(client, sign_up):
    sign_up(client)
    client.logout()
    response = sign_up(client, company_name="Other Co", email="DANA@harbor.example")
    assert response.status_code == 422
    assert "already exists" in str(response.context["form"].errors["email"])
    assert Tenant.objects.count() == 1


def test_signup_without_csrf_token_is_rejected(db):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/signup/", signup_data())
    assert response.status_code == 403
    assert not Tenant.objects.exists()


def test_the_verification_link_completes_the_first_milestone(client, sign_up):
    sign_up(client)
    link = re.search(r"http://localhost:8000(/onboarding/verify/\S+/)", mail.outbox[0].body).group(1)

    assert client.get(link).status_code == 302
    tenant = Tenant.objects.get()
    progress = MilestoneProgress.objects.for_tenant(tenant).get()
    assert (progress.milestone.key, progress.source) == ("verify_email", "wizard")
    assert client.get("/onboarding/").url == "/onboarding/step/connect_calendar/"  # resumes at the next step
    assert client.get("/onboarding/verify/forged-token/").status_code == 400


def test_wizard_steps_validate_save_their_input_and_resume(client, sign_up):
    sign_up(client)
    bad = client.post(
        "/onboarding/step/connect_calendar/",
        {"connect_calendar-provider": "ical", "connect_calendar-calendar_address": "ftp://cal"},
    )
    assert bad.status_code == 422 and "starts with https://" in bad.content.decode()
    assert not MilestoneProgress.all_tenants.exists()

    ok = client.post(
        "/onboarding/step/connect_calendar/",
        {"connect_calendar-provider": "google", "connect_calendar-calendar_address": "book@harbor.example"},
    )
    assert ok.status_code == 302 and ok.url == "/onboarding/"
    assert client.get("/onboarding/").url == "/onboarding/step/provision_number/"  # the next open step
    progress = MilestoneProgress.all_tenants.get()
    assert progress.data == {"provider": "google", "calendar_address": "book@harbor.example"}
    # Posting a completed step again changes nothing.
    again = client.post(
        "/onboarding/step/connect_calendar/",
        {"connect_calendar-provider": "outlook", "connect_calendar-calendar_address": "x@y.example"},
    )
    assert again.status_code == 404
    assert MilestoneProgress.all_tenants.get().data["provider"] == "google"


def test_htmx_step_post_returns_the_panel_with_errors(client, sign_up):
    sign_up(client)
    response = client.post(
        "/onboarding/step/tune_prompt/", {"tune_prompt-business_description": "short"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 422 and body.lstrip().startswith('<section class="card wizard-step"')
    assert "at least 40 characters" in body


def test_an_htmx_save_loads_the_next_step_as_a_whole_page(client, sign_up):
    """Not a 302, which the browser's XHR would follow and htmx would swap into the step panel
    alone, leaving the progress bar, "Step N of M" and the checklist beside it as they were."""
    sign_up(client)
    before = client.get("/onboarding/step/connect_calendar/").content.decode()
    assert '<progress value="0"' in before and "Step 2 of 4" in before

    saved = client.post(
        "/onboarding/step/connect_calendar/",
        {"connect_calendar-provider": "google", "connect_calendar-calendar_address": "book@harbor.example"},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200 and saved["HX-Redirect"] == "/onboarding/"
    assert not saved.has_header("Location")

    page = client.get(client.get("/onboarding/").url).content.decode()
    # Five milestones (email, calendar, number, prompt, test call), one done: 20 %. The wizard
    # has four of them (the test call is an event); the number is the third.
    assert '<progress value="20"' in page and "1 of 5 done · 20 %" in page and "Step 3 of 4" in page
    assert re.search(r'<li class="done">\s*<a href="/onboarding/step/connect_calendar/">', page)
    assert re.search(r'<li class="current">\s*<a href="/onboarding/step/provision_number/">', page)


def test_with_debug_on_pages_load_htmx_without_the_debug_handler_and_swap_422(client, owner_a, settings):
    """django-htmx's DEBUG handler replaces the page with the bare answer to a 400; with DEBUG
    on (the demo) the page must behave as in production: form errors are 422, swapped."""
    settings.DEBUG = True
    client.force_login(owner_a)
    page = client.get("/account/").content.decode()
    assert "django_htmx/htmx-2.min.js" in page and "django-htmx.js" not in page
    assert '{"code": "422", "swap": true}' in page and '"400"' not in page


def test_signup_shows_the_plan_prices_and_geographic_time_zones_common_first(client):
    from billing.plans import PLANS

    page = client.get("/signup/").content.decode()
    for plan, label in [("starter", "Starter · $19/month"), ("professional", "Professional · $49/month")]:
        assert label in page and label.endswith(PLANS[plan].price_label)  # what billing charges
    assert "Business · $99/month" in page and PLANS["business"].price_label == "$99/month"
    assert 'list="timezone-options"' in page
    datalist = page.split('<datalist id="timezone-options">')[1].split("</datalist>")[0]
    zones = re.findall(r'<option value="([^"]+)">', datalist)
    assert zones[:5] == [
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Phoenix",
        "America/Los_Angeles",
    ]
    assert {"Europe/Paris", "Asia/Tokyo", "America/Argentina/Buenos_Aires", "UTC"} <= set(zones)
    assert not {"Factory", "localtime", "EST5EDT", "Etc/GMT+5", "US/Eastern", "GMT", "posixrules"} & set(zones)
    assert len(zones) == len(set(zones))  # a common zone is not listed twice


def test_signup_takes_a_zone_typed_from_the_list(client, sign_up):
    assert sign_up(client, timezone="Europe/Paris").status_code == 302
    assert Tenant.objects.get().timezone == "Europe/Paris"


def test_another_owner_cannot_reach_a_step_outside_their_onboarding(client, owner_b):
    client.force_login(owner_b)  # tenant B follows the voice template: it has no invite step
    assert client.get("/onboarding/step/invite_teammate/").status_code == 404
    assert client.post("/onboarding/step/invite_teammate/", {"invite_teammate-email": "x@y.example"}).status_code == 404


def test_an_invited_teammate_joins_as_a_member(client, sign_up, django_capture_on_commit_callbacks):
    sign_up(client, business_type="")
    with django_capture_on_commit_callbacks(execute=True):  # the outbox sends once the request commits
        client.post("/onboarding/step/invite_teammate/", {"invite_teammate-email": "sam@harbor.example"})
    link = re.search(r"http://localhost:8000(/onboarding/join/\S+/)", mail.outbox[-1].body).group(1)
    client.logout()

    joined = client.post(link, {"name": "Sam Lee", "password": "another-long-passphrase"})

    assert joined.status_code == 302
    membership = Membership.all_tenants.get(user__email="sam@harbor.example")
    assert membership.role == "member" and membership.tenant.name == "Harbor HVAC"


def test_the_milestone_event_through_the_api_completes_it_at_the_next_tick(client, api, make_key, sign_up):
    sign_up(client)
    tenant = Tenant.objects.get()
    key = make_key(ApiKey.Scope.INGEST, tenant=tenant)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        posted = api(
            "post",
            "/api/v1/events/",
            key=key,
            json={"events": [{"name": "call.handled", "occurred_at": (NOW + timedelta(hours=1)).isoformat()}]},
        )
    assert posted.status_code == 202

    tick(NOW + timedelta(hours=1, minutes=1))

    progress = MilestoneProgress.objects.for_tenant(tenant).get(milestone__key="live_test_call")
    assert progress.source == "event" and progress.completed_at == NOW + timedelta(hours=1)
    onboarding = TenantOnboarding.objects.for_tenant(tenant).get()
    assert onboarding.first_value_at == NOW + timedelta(hours=1)  # the live test call is first value
    assert TimelineEntry.objects.for_tenant(tenant).filter(kind="onboarding.milestone_completed").exists()


def test_any_event_completes_send_first_event(tenant_a):
    events_ingest(
        events=[{"tenant": "acme", "name": "app.opened", "occurred_at": NOW.isoformat()}], bound_tenant=None, now=NOW
    )
    tick(NOW + timedelta(minutes=1))
    assert {i.milestone.key for i in checklist_for(tenant=tenant_a).items if i.done} == {"send_first_event"}


def test_stalled_onboarding_is_flagged_once_and_a_csm_completes_for_them(client, csm, tenant_a):
    tick(NOW + timedelta(days=4))  # verify (day 0) and the day-3 milestones are overdue
    onboarding = TenantOnboarding.objects.for_tenant(tenant_a).get()
    assert onboarding.stalled_since == tenant_a.signed_up_at
    tick(NOW + timedelta(days=4, hours=1))
    assert TimelineEntry.objects.for_tenant(tenant_a).filter(kind="onboarding.stalled").count() == 1

    client.force_login(csm)
    page = client.get("/admin/customer-success/onboarding/").content.decode()
    assert "Acme Plumbing" in page and "Verify your email" in page
    refused = client.post("/admin/customer-success/tenants/acme/milestones/verify_email/complete/", {"note": ""})
    assert refused.status_code == 302 and not MilestoneProgress.all_tenants.exists()
    client.post(
        "/admin/customer-success/tenants/acme/milestones/verify_email/complete/", {"note": "Verified on the phone"}
    )
    progress = MilestoneProgress.objects.for_tenant(tenant_a).get()
    assert (progress.source, progress.completed_by, progress.note) == ("staff", csm, "Verified on the phone")
    assert AuditLog.objects.filter(action="onboarding.milestone_complete", actor=csm).exists()
    assert (
        client.post("/admin/customer-success/tenants/acme/milestones/nope/complete/", {"note": "x"}).status_code == 404
    )


def test_billing_ops_cannot_tick_milestones(client, billing_ops, tenant_a):
    client.force_login(billing_ops)
    assert (
        client.post("/admin/customer-success/tenants/acme/milestones/verify_email/complete/", {"note": "x"}).status_code
        == 403
    )


def test_the_api_returns_the_onboarding_block(api, read_key, tenant_a):
    detail = api("get", "/api/v1/tenants/acme/", key=read_key).json()["onboarding"]
    assert (detail["completed"], detail["total"], detail["percent"]) == (0, 5, 0)
    assert detail["milestones"][3] == {
        "key": "send_first_event",
        "title": "Send your first event",
        "required": True,
        "event": "*",
        "completed_at": None,
        "source": None,
    }


def test_funnel_counts_each_milestone_and_time_to_first_value(tenant_a, tenant_b, csm):
    from onboarding.models import Milestone
    from onboarding.services import milestone_complete

    onboarding = TenantOnboarding.objects.for_tenant(tenant_a).get()
    verify = Milestone.objects.get(template=onboarding.template, key="verify_email")
    first_value = Milestone.objects.get(template=onboarding.template, key="first_value")
    milestone_complete(tenant=tenant_a, milestone=verify, source="wizard", now=NOW)
    milestone_complete(
        tenant=tenant_a,
        milestone=first_value,
        source="staff",
        now=NOW,
        actor=csm,
        note="ok",
        at=tenant_a.signed_up_at + timedelta(days=6),
    )

    funnel = funnel_for(template=onboarding.template)
    assert funnel.started == 1
    # The funnel's steps are the required milestones; the optional invite is counted apart.
    assert [(s.milestone.key, s.reached, s.drop_off) for s in funnel.steps][:2] == [
        ("verify_email", 1, 0),
        ("connect_integration", 0, 1),
    ]
    assert [(o.milestone.key, o.completed) for o in funnel.optional] == [("invite_teammate", 0)]
    assert funnel.median_days_to_first_value == 6.0


def test_a_new_template_version_goes_to_new_signups_and_old_tenants_keep_theirs(client, admin_staff, tenant_a, sign_up):
    from onboarding.models import OnboardingTemplate

    client.force_login(admin_staff)
    old = TenantOnboarding.objects.for_tenant(tenant_a).get().template
    in_use = client.get(f"/admin/onboarding/onboardingtemplate/{old.pk}/change/").content.decode()
    assert 'name="name"' not in in_use  # a version tenants follow is read-only

    client.post("/admin/onboarding/onboardingtemplate/", {"action": "new_version", "_selected_action": [old.pk]})

    new = OnboardingTemplate.objects.get(slug=old.slug, is_current=True)
    assert new.version == old.version + 1 and new.milestones.count() == old.milestones.count()
    assert TenantOnboarding.objects.for_tenant(tenant_a).get().template == old
    assert AuditLog.objects.filter(action="onboarding_template.new_version").exists()
    client.logout()
    sign_up(client, business_type="", email="new@owner.example", company_name="New Co")
    assert TenantOnboarding.all_tenants.get(tenant__name="New Co").template == new


def test_login_is_locked_after_repeated_failures(db):
    from django.test import Client

    from .factories import UserFactory

    UserFactory(username="dana")
    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": "dana", "password": "wrong"})
    locked = client.post("/login/", {"username": "dana", "password": "correct horse battery staple"})
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()


def test_password_reset_sends_a_link_that_sets_a_new_password(client, sign_up):
    sign_up(client)
    client.logout()
    mail.outbox.clear()

    assert client.post("/password-reset/", {"email": "dana@harbor.example"}).status_code == 302
    link = re.search(r"http://testserver(/password-reset/\S+/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    set_password = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"new_password1": "brand-new-long-passphrase", "new_password2": "brand-new-long-passphrase"},
    )
    assert set_password.status_code == 302 and set_password.url == "/password-reset/done/"
    assert get_user_model().objects.get(email="dana@harbor.example").check_password("brand-new-long-passphrase")


def template_form(template, changes=None):
    """The editor's POST for a template, with per-row overrides: {row index: {field: value}}."""
    data = {
        "name": template.name,
        "description": template.description,
        "m-TOTAL_FORMS": "0",
        "m-INITIAL_FORMS": "0",
        "m-MIN_NUM_FORMS": "0",
        "m-MAX_NUM_FORMS": "30",
    }
    rows = [
        {
            "key": m.key,
            "title": m.title,
            "help_text": m.help_text,
            "required": "on" if m.required else "",
            "expected_by_day": m.expected_by_day,
            "completion": m.completion,
            "step": m.step,
            "event_name": m.event_name,
            "is_first_value": "on" if m.is_first_value else "",
        }
        for m in template.milestones.order_by("position")
    ]
    for index, row_changes in (changes or {}).items():
        if index >= len(rows):
            rows.append({})
        rows[index].update(row_changes)
    for i, row in enumerate(rows):
        for field, value in row.items():
            if value not in ("", None):
                data[f"m-{i}-{field}"] = value
    data["m-TOTAL_FORMS"] = str(len(rows))
    data["m-INITIAL_FORMS"] = str(template.milestones.count())  # as the rendered management form says
    return data


def test_a_cs_lead_edits_a_template_in_the_cockpit_as_a_new_version(client, cs_lead, csm, tenant_a):
    from onboarding.models import OnboardingTemplate

    old = TenantOnboarding.objects.for_tenant(tenant_a).get().template
    url = f"/admin/customer-success/onboarding/templates/{old.pk}/"
    client.force_login(csm)
    assert "Save as a new version" not in client.get(url).content.decode()
    assert client.post(url, template_form(old)).status_code == 403

    client.force_login(cs_lead)
    bad = client.post(
        url,
        template_form(
            old, {5: {"key": "kickoff", "title": "Kickoff call", "expected_by_day": 2, "completion": "event"}}
        ),
    )
    assert bad.status_code == 400 and "needs the event name" in bad.content.decode()
    assert OnboardingTemplate.objects.filter(slug=old.slug).count() == 1

    saved = client.post(
        url,
        template_form(
            old,
            {
                1: {"DELETE": "on"},
                5: {
                    "key": "kickoff",
                    "title": "Kickoff call",
                    "expected_by_day": 2,
                    "completion": "staff",
                    "required": "on",
                },
            },
        ),
    )
    new = OnboardingTemplate.objects.get(slug=old.slug, is_current=True)
    assert saved.status_code == 302 and new.version == 2
    assert list(new.milestones.order_by("position").values_list("key", flat=True)) == [
        "verify_email",
        "connect_integration",
        "send_first_event",
        "first_value",
        "kickoff",
    ]
    assert TenantOnboarding.objects.for_tenant(tenant_a).get().template == old  # tenants keep theirs


def test_someone_with_a_login_joins_with_it_and_only_for_their_own_address(
    client, sign_up, owner_b, django_capture_on_commit_callbacks
):
    sign_up(client, business_type="")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/onboarding/step/invite_teammate/", {"invite_teammate-email": "owner-b@example.com"})
    link = re.search(r"http://localhost:8000(/onboarding/join/\S+/)", mail.outbox[-1].body).group(1)

    refused = client.post(link)  # still logged in as the inviter
    assert refused.status_code == 400 and "This invitation is for owner-b@example.com" in refused.content.decode()

    client.force_login(owner_b)
    assert client.post(link).status_code == 302
    tenant = Tenant.objects.get(name="Harbor HVAC")
    assert Membership.objects.for_tenant(tenant).filter(user=owner_b, role="member").exists()
