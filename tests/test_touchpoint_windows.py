"""The schedule holds in every time zone (issue 19, first part): only steps the playbook file
marks transactional — with a reason — skip the send window; every other message waits for
it, at scheduling and at send time; no SMS goes out in the tenant's quiet hours (21:00–08:00
local), transactional or not; Day N is N calendar days in the tenant's zone, across
daylight-saving changes and half- and quarter-hour offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from messaging.models import Message
from playbooks import dispatch
from playbooks.definitions import DefinitionError, parse
from playbooks.models import Delivery, Run, Trigger

from .alert_helpers import ingest, tenant_at
from .billing_helpers import StripeStory, stripe_settings
from .touchpoint_helpers import tick_at

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture(autouse=True)
def stripe(settings):
    stripe_settings(settings)


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def test_dunning_in_tokyo_reminds_inside_the_window_and_texts_after_the_quiet_hours():
    """Past due at 02:00 Tokyo time. The day-0 notice is transactional: the email goes at once,
    the text waits for 08:00. The day-3, day-7 and day-14 reminders go between 09:00 and 18:00
    Tokyo time, whatever the hour the ticks come at (every 3 hours here)."""
    past_due_at = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)  # 02:00 on 19 Nov in Tokyo
    tenant = tenant_at(
        "sakura",
        signed_up_at=past_due_at - timedelta(days=90),
        onboarding=False,
        timezone="Asia/Tokyo",
        owner_phone="+819012345678",
        sms_consent_at=past_due_at - timedelta(days=90),
    )
    ingest(tenant, "call.handled", past_due_at - timedelta(hours=3), count=3, now=past_due_at - timedelta(hours=2))
    story = StripeStory(tenant)
    story.customer(at=past_due_at - timedelta(days=60))
    story.status("active", at=past_due_at - timedelta(days=60), event="customer.subscription.created")
    story.go_past_due(at=past_due_at)

    moment = past_due_at + timedelta(minutes=1)
    while moment < past_due_at + timedelta(days=15):
        tick_at(moment)
        moment += timedelta(hours=3)

    [run] = Run.objects.for_tenant(tenant).filter(trigger=Trigger.SUBSCRIPTION_PAST_DUE)
    sent = {
        d.step.key: d
        for d in Delivery.objects.for_tenant(tenant).filter(run=run).select_related("step")
        if d.status in (Delivery.Status.SENT, Delivery.Status.DELIVERED)
    }
    messages = {"day-0-email", "day-0-sms", "day-3-email", "day-3-sms", "day-7-email", "day-7-sms", "final-notice"}
    assert messages <= set(sent), sorted(sent)
    assert sent["day-0-email"].sent_at == past_due_at + timedelta(minutes=1)  # at once, at 02:01
    text = local(sent["day-0-sms"].sent_at, "Asia/Tokyo")
    assert text.date() == datetime(2026, 11, 19).date() and 8 <= text.hour < 9, text
    for key in messages - {"day-0-email", "day-0-sms"}:
        at = local(sent[key].sent_at, "Asia/Tokyo")
        assert 9 <= at.hour < 18, (key, at)


def test_a_touchpoint_left_in_the_outbox_past_its_window_waits_for_the_next_one(mailoutbox):
    """A worker claims Tokyo's day-3 reminders at 17:59 Tokyo time — delivery SENDING, its
    message in the outbox — and stops before sending. The next tick comes at 18:30, after the
    window closed: the outbox's send check holds the message back and the delivery waits for
    09:00 the next morning, when it goes once, as a new message."""
    past_due_at = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)  # 02:00 on 19 Nov in Tokyo
    tenant = tenant_at("sakura", signed_up_at=past_due_at - timedelta(days=90), onboarding=False, timezone="Asia/Tokyo")
    story = StripeStory(tenant)
    story.customer(at=past_due_at - timedelta(days=60))
    story.status("active", at=past_due_at - timedelta(days=60), event="customer.subscription.created")
    story.go_past_due(at=past_due_at)
    tick_at(past_due_at + timedelta(minutes=1))  # day 0
    claim_at = datetime(2026, 11, 22, 8, 59, tzinfo=UTC)  # 17:59 on 22 Nov in Tokyo

    dispatch._claim(now=claim_at, clock=lambda: claim_at, batch_size=200, result=dispatch.DispatchResult())

    reminder = Delivery.objects.for_tenant(tenant).select_related("step").get(step__key="day-3-email")
    assert reminder.status == Delivery.Status.SENDING
    assert Message.objects.get(id=reminder.message_id).status == Message.Status.SCHEDULED
    mailoutbox.clear()
    tick_at(datetime(2026, 11, 22, 9, 30, tzinfo=UTC))  # 18:30 in Tokyo: the window has closed

    assert [m.subject for m in mailoutbox if m.to == [tenant.owner_email]] == []
    reminder.refresh_from_db()
    assert reminder.status == Delivery.Status.SCHEDULED
    assert local(reminder.due_at, "Asia/Tokyo") == datetime(2026, 11, 23, 9, 0, tzinfo=TOKYO)
    held = Message.objects.get(id=reminder.message_id)
    assert held.status == Message.Status.SKIPPED and "send window closed" in held.reason

    tick_at(datetime(2026, 11, 23, 0, 1, tzinfo=UTC))  # 09:01 in Tokyo

    reminder.refresh_from_db()
    assert reminder.status == Delivery.Status.SENT
    assert local(reminder.sent_at, "Asia/Tokyo").hour == 9
    assert len([m for m in mailoutbox if m.to == [tenant.owner_email] and m.subject == reminder.rendered_subject]) == 1
    statuses = Message.objects.filter(topic=f"delivery:{reminder.id}").order_by("id").values_list("status", flat=True)
    assert list(statuses) == ["skipped", "sent"]


@pytest.mark.parametrize(
    ("zone", "signup_utc", "opening_utc"),
    [
        # 2 Nov 20:00 UTC is 3 Nov 01:30 in Kolkata (+05:30): Day 3 is 6 Nov 01:30 there, and
        # the email waits for 09:00 there, 03:30 UTC.
        ("Asia/Kolkata", datetime(2026, 11, 2, 20, 0, tzinfo=UTC), datetime(2026, 11, 6, 3, 30, tzinfo=UTC)),
        # 2 Nov 19:45 UTC is 3 Nov 01:30 in Kathmandu (+05:45): 09:00 on 6 Nov is 03:15 UTC.
        ("Asia/Kathmandu", datetime(2026, 11, 2, 19, 45, tzinfo=UTC), datetime(2026, 11, 6, 3, 15, tzinfo=UTC)),
    ],
)
def test_half_and_quarter_hour_offsets_keep_the_window(zone, signup_utc, opening_utc):
    tenant = tenant_at("offset", signed_up_at=signup_utc, timezone=zone)
    tick_at(signup_utc + timedelta(minutes=1))
    day_3 = Delivery.objects.for_tenant(tenant).get(step__key="activation-low")
    assert day_3.due_at == opening_utc
    assert local(day_3.due_at, zone).strftime("%H:%M") == "09:00"


def test_day_n_is_n_calendar_days_in_the_tenants_zone_across_daylight_saving():
    """Signed up Sunday 7 March 2027, 10:00 in New York (EST, 15:00 UTC). Clocks go forward on
    14 March: Day 7 is 10:00 EDT, 14:00 UTC — not 15:00 UTC, which would be 11:00 local."""
    signup = datetime(2027, 3, 7, 15, 0, tzinfo=UTC)
    tenant = tenant_at("spring", signed_up_at=signup, timezone="America/New_York")
    tick_at(signup + timedelta(minutes=1))
    recap = Delivery.objects.for_tenant(tenant).get(step__key="first-week-recap")
    assert recap.nominal_at == datetime(2027, 3, 14, 14, 0, tzinfo=UTC)
    assert local(recap.due_at, "America/New_York").strftime("%d %b %H:%M %Z") == "14 Mar 10:00 EDT"


def test_a_transactional_step_without_a_reason_is_refused_with_its_line():
    text = """slug: hook
name: Hook
trigger: signup
steps:
  - key: notice
    day: 0
    channel: email
    transactional: true
    subject: "Hello"
    body: "Hi"
"""
    with pytest.raises(DefinitionError, match=r"hook\.yaml, line \d+: .*transactional_reason"):
        parse(text, source="hook.yaml")
    with_reason = text.replace("transactional: true", 'transactional: true\n    transactional_reason: "the login link"')
    assert parse(with_reason, source="hook.yaml")["steps"][0]["transactional_reason"] == "the login link"


# --- variant groups: decided once ------------------------------------------------------------


def test_usage_that_changes_between_two_ticks_on_day_3_still_gets_exactly_one_day_3_email():
    """The medium member came due two hours after the others (deferred, as a throttle or a
    late batch would). Usage is medium at the first tick and high at the second: decided
    member by member, high and low would skip ("it is medium") and medium would skip ("it is
    high") — no Day 3 email. Decided once, medium is chosen and goes."""
    from django.core import mail

    from .touchpoint_helpers import SIGNUP, new_york_tenant

    tenant = new_york_tenant()
    tick_at(SIGNUP)
    day_3 = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)  # 09:00 in New York, the window's opening
    Delivery.objects.for_tenant(tenant).filter(step__key="activation-medium").update(due_at=day_3 + timedelta(hours=2))
    for day in (1, 2, 3):  # medium usage: active 2-3 of the last 7 days
        ingest(tenant, "call.handled", SIGNUP + timedelta(days=day - 1, hours=14), now=day_3 - timedelta(hours=1))
    ingest(tenant, "call.handled", SIGNUP + timedelta(days=2, hours=15), now=day_3 - timedelta(hours=1))
    mail.outbox.clear()
    tick_at(day_3)
    for day in range(4):  # high usage from now on: 4+ active days
        ingest(tenant, "call.handled", day_3 - timedelta(days=day, hours=2), now=day_3 + timedelta(hours=1))
    tick_at(day_3 + timedelta(hours=2))

    variants = {
        d.step.key: d
        for d in Delivery.objects.for_tenant(tenant).filter(step__variant="activation").select_related("step")
    }
    statuses = {key: d.status for key, d in variants.items()}
    assert statuses == {"activation-high": "skipped", "activation-medium": "sent", "activation-low": "skipped"}
    assert variants["activation-high"].reason == (
        "condition false: usage_level == high (it is medium) — one of the “Activation” variants, "
        "decided together at 5 Nov 14:00 UTC: “Activation medium” goes instead"
    )
    subjects = [m.subject for m in mail.outbox if m.to == [tenant.owner_email]]
    assert subjects.count(variants["activation-medium"].rendered_subject) == 1, subjects
    assert not {variants[k].rendered_subject for k in ("activation-high", "activation-low")} & set(subjects)
    # The why page shows the choice and the facts it was made from.
    trace = variants["activation-medium"].trace
    assert trace["variant"]["chosen"] == "Activation medium"
    assert [c["actual"] for c in trace["conditions"]] == ["medium"]


def test_a_variant_group_with_members_on_different_days_is_refused_with_its_line():
    text = """slug: split
name: Split
trigger: signup
steps:
  - key: early
    variant: nudge
    day: 3
    channel: task
    title: "Early"
    when: [usage_level == high]
  - key: late
    variant: nudge
    day: 4
    channel: task
    title: "Late"
    when: [usage_level != high]
"""
    with pytest.raises(DefinitionError, match=r"split\.yaml, line 11: variant group “nudge”: late is on day 4"):
        parse(text, source="split.yaml")


def test_loading_a_variant_group_that_can_miss_warns_with_the_uncovered_case(tmp_path):
    from io import StringIO

    from django.core.management import call_command

    (tmp_path / "gap.yaml").write_text(
        """slug: gap
name: Gap
trigger: signup
steps:
  - key: busy
    variant: nudge
    day: 3
    channel: task
    title: "Busy"
    when: [usage_level == high]
  - key: quiet
    variant: nudge
    day: 3
    channel: task
    title: "Quiet"
    when: [usage_level == low]
"""
    )
    out = StringIO()
    call_command("load_playbooks", str(tmp_path), stdout=out)
    assert "warning: gap: variant group “nudge”: no member is sent when usage_level = medium" in out.getvalue()
    library = StringIO()
    call_command("load_playbooks", stdout=library)
    assert "warning" not in library.getvalue()  # the built-in Day 3 split covers every level


# --- a tenant whose time zone changes mid-run --------------------------------------------------


def test_a_tenant_moved_from_new_york_to_tokyo_mid_run_gets_the_rest_in_tokyo_hours():
    """Signed up in New York; on Day 1 the owner says they are in Tokyo. What is scheduled moves
    to Tokyo's Day N and window at once (not a night's wait at the send-time check); what went
    out stays as it was; nothing goes twice; the change is audited and on the timeline. About
    20–40 s: the real tick runs hourly over eight days (some 190 ticks)."""
    from django.core import mail

    from tenants.models import AuditLog, TimelineEntry
    from tenants.services import tenant_timezone_change

    from .touchpoint_helpers import SIGNUP, new_york_tenant

    tenant = new_york_tenant()
    tick_at(SIGNUP)
    welcome = Delivery.objects.for_tenant(tenant).get(step__key="welcome-email")
    moved_at = SIGNUP + timedelta(days=1, hours=2)
    tenant = tenant_timezone_change(tenant=tenant, timezone="Asia/Tokyo", actor=None, now=moved_at)

    scheduled = list(
        Delivery.objects.for_tenant(tenant).filter(status=Delivery.Status.SCHEDULED).select_related("step")
    )
    assert scheduled
    for d in scheduled:
        if d.step.channel in ("email", "sms") and not d.step.transactional:
            assert 9 <= local(d.due_at, "Asia/Tokyo").hour < 18, (d.step.key, local(d.due_at, "Asia/Tokyo"))
        # Day N in Tokyo: the signup's Tokyo wall-clock time, N days on (neither zone changes
        # its clocks in November here, so that is the same moment as New York's Day N).
        assert d.nominal_at == SIGNUP + timedelta(days=d.step.day, hours=d.step.hours), d.step.key
    welcome.refresh_from_db()
    assert welcome.status == Delivery.Status.SENT and welcome.sent_at == SIGNUP

    moment = moved_at
    while moment < SIGNUP + timedelta(days=9):
        tick_at(moment)
        moment += timedelta(hours=1)
    sent = list(
        Delivery.objects.for_tenant(tenant)
        .filter(status__in=[Delivery.Status.SENT, Delivery.Status.DELIVERED], sent_at__gt=moved_at)
        .select_related("step")
    )
    assert {d.step.key for d in sent} >= {"first-week-recap"}
    for d in sent:
        if d.step.channel == "email" and not d.step.transactional:
            assert 9 <= local(d.sent_at, "Asia/Tokyo").hour < 18, (d.step.key, local(d.sent_at, "Asia/Tokyo"))
    subjects = [m.subject for m in mail.outbox if m.to == [tenant.owner_email]]
    assert len(subjects) == len(set(subjects)), subjects  # nothing twice
    entry = TimelineEntry.objects.for_tenant(tenant).get(kind="tenant.timezone")
    assert entry.summary.startswith("Time zone changed from America/New_York to Asia/Tokyo")
    audit = AuditLog.objects.get(action="tenant.timezone", tenant=tenant)
    assert (audit.before["timezone"], audit.after["timezone"]) == ("America/New_York", "Asia/Tokyo")


def test_an_unknown_time_zone_is_refused_by_name_and_nothing_moves():
    from django.core.exceptions import ValidationError

    from tenants.services import tenant_timezone_change

    from .touchpoint_helpers import SIGNUP, new_york_tenant

    tenant = new_york_tenant()
    tick_at(SIGNUP)
    before = list(Delivery.objects.for_tenant(tenant).order_by("id").values_list("due_at", flat=True))
    with pytest.raises(ValidationError) as refused:
        tenant_timezone_change(tenant=tenant, timezone="Mars/Olympus", actor=None, now=SIGNUP + timedelta(hours=1))
    assert "“Mars/Olympus” is not an IANA time zone name" in refused.value.message_dict["timezone"][0]
    tenant.refresh_from_db()
    assert tenant.timezone == "America/New_York"
    assert list(Delivery.objects.for_tenant(tenant).order_by("id").values_list("due_at", flat=True)) == before


def test_a_time_zone_edited_in_the_django_admin_moves_the_schedule_too(client, admin_staff):
    from tenants.models import AuditLog

    from .touchpoint_helpers import SIGNUP, new_york_tenant

    tenant = new_york_tenant()
    tick_at(SIGNUP)
    client.force_login(admin_staff)
    form = client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").context["adminform"].form
    data: dict[str, object] = {}
    for name, field in form.fields.items():  # the form as the browser would post it
        value = form.initial.get(name)
        if hasattr(field.widget, "decompress"):  # split date and time
            for i, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{i}"] = "" if part is None else part
        elif value is not None:
            data[name] = value
    data["timezone"] = "Asia/Tokyo"
    response = client.post(f"/admin/tenants/tenant/{tenant.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    tenant.refresh_from_db()
    assert tenant.timezone == "Asia/Tokyo"
    day_3 = Delivery.objects.for_tenant(tenant).get(step__key="activation-medium")
    assert 9 <= local(day_3.due_at, "Asia/Tokyo").hour < 18
    assert AuditLog.objects.filter(action="tenant.timezone", tenant=tenant).count() == 1
