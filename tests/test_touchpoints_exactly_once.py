"""Never twice: a send interrupted after the provider took it is left for a person, and two
ticks racing on PostgreSQL still send each touchpoint once."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from core import ticks
from messaging.models import Message
from playbooks.dispatch import SENDING_TIMEOUT
from playbooks.models import Delivery
from tenants.models import AuditLog, TimelineEntry

from .backends import ProcessKilled
from .test_touchpoints_schedule import assert_onboarding_30_went_exactly_once
from .touchpoint_helpers import NEW_YORK, SIGNUP, hourly, new_york_tenant, owner_mail, sms_outbox, tick_at

pytestmark = pytest.mark.usefixtures("alert_playbooks_off")


@pytest.mark.django_db
def test_a_send_killed_after_the_provider_call_is_left_for_review_never_resent(settings, client, csm):
    tenant = new_york_tenant()
    settings.SMS_BACKEND = "tests.backends.SmsSentThenProcessKilled"
    settings.SMS_QUIET_HOURS = None  # the welcome text goes at signup, 21:00 in New York

    with pytest.raises(ProcessKilled), time_machine.travel(SIGNUP, tick=False):
        ticks.run_tick(now=SIGNUP)

    sms_delivery = Delivery.objects.for_tenant(tenant).get(step__key="welcome-sms")
    assert sms_delivery.status == Delivery.Status.SENDING
    assert len(sms_outbox()) == 1  # the provider has it

    settings.SMS_BACKEND = "locmem"  # the provider is fine again; the worker restarts
    tick_at(SIGNUP + timedelta(minutes=5))
    sms_delivery.refresh_from_db()
    assert sms_delivery.status == Delivery.Status.SENDING  # maybe still on its way: left alone

    for moment in hourly(SIGNUP + SENDING_TIMEOUT + timedelta(minutes=1), 48):
        tick_at(moment)

    sms_delivery.refresh_from_db()
    assert sms_delivery.status == Delivery.Status.NEEDS_REVIEW
    assert "may or may not have gone out" in sms_delivery.reason
    # The welcome email went out just before, in the same group, and was not recorded yet
    # either: it is in review too. Neither is ever resent blindly.
    email_delivery = Delivery.objects.for_tenant(tenant).get(step__key="welcome-email")
    assert email_delivery.status == Delivery.Status.NEEDS_REVIEW
    assert len(sms_outbox()) == 1 and len(owner_mail(tenant)) == 1
    assert TimelineEntry.objects.for_tenant(tenant).filter(kind="touchpoint.needs_review").count() == 2
    # The CSM task, created in our own database, was never half-done: it went at a later tick.
    assert Delivery.objects.for_tenant(tenant).get(step__key="calibration-call").status == Delivery.Status.SENT

    # A CSM checks Twilio's log, sees nothing went out, and asks for a resend: that is a
    # person's decision, audited, and it goes at the next tick — once.
    client.force_login(csm)
    queue = client.get("/admin/customer-success/touchpoints/review/").content.decode()
    assert "Harbor HVAC" in queue and "+14155550123" in queue
    with time_machine.travel(SIGNUP + timedelta(days=2, minutes=30), tick=False):
        response = client.post(
            f"/admin/customer-success/touchpoints/{sms_delivery.id}/review/",
            {"decision": "resend", "note": "Twilio log shows no message to +14155550123"},
        )
    assert response.status_code == 302
    assert AuditLog.objects.filter(action="delivery.resend", target_id=str(sms_delivery.id)).exists()
    tick_at(SIGNUP + timedelta(days=2, hours=1))
    tick_at(SIGNUP + timedelta(days=2, hours=2))
    sms_delivery.refresh_from_db()
    assert sms_delivery.status == Delivery.Status.SENT
    assert len(sms_outbox()) == 2
    # In the outbox: the interrupted message, settled by the CSM's decision, and the resend.
    messages = list(Message.objects.filter(topic=f"delivery:{sms_delivery.id}").order_by("id"))
    assert [m.status for m in messages] == ["failed", "sent"]
    assert messages[0].reason.startswith("resend requested by") and messages[1].id == sms_delivery.message_id


@pytest.mark.django_db
def test_a_review_decision_needs_a_note_and_a_delivery_in_review(client, csm):
    tenant = new_york_tenant()
    tick_at(SIGNUP)
    sent = Delivery.objects.for_tenant(tenant).get(step__key="welcome-email")
    client.force_login(csm)

    response = client.post(
        f"/admin/customer-success/touchpoints/{sent.id}/review/", {"decision": "resend", "note": "x"}, follow=True
    )

    assert "This delivery is sent now, not in review." in response.content.decode()
    assert len(mail.outbox) == 1
    response = client.post(
        f"/admin/customer-success/touchpoints/{sent.id}/review/", {"decision": "resend"}, follow=True
    )
    assert "Say what you checked" in response.content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_ticks_racing_on_postgresql_still_send_each_touchpoint_once():
    """Over 30 s (110–190 s in CI): two real ticks race at every hour of the 31-day walk,
    744 moments, because a double send can hide in any of them; a shorter walk would miss
    the Day 14 and Day 30 steps. Issue 18 makes the tick cheaper."""
    tenant = new_york_tenant()
    moments = hourly(SIGNUP, 31 * 24)
    start, done = threading.Barrier(3), threading.Barrier(3)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for moment in moments:
                start.wait(timeout=60)
                try:
                    ticks.run_tick(now=moment)  # its own connection: a real second client
                finally:
                    done.wait(timeout=60)
        except BaseException as exc:  # reported below; a broken barrier stops the other side
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    with time_machine.travel(SIGNUP, tick=False) as traveller:
        for thread in threads:
            thread.start()
        for moment in moments:
            traveller.move_to(moment)
            start.wait(timeout=60)
            done.wait(timeout=120)
        for thread in threads:
            thread.join(timeout=60)

    assert not errors, errors
    assert_onboarding_30_went_exactly_once(tenant)


@pytest.mark.django_db
def test_a_mail_server_failing_at_quit_after_accepting_does_not_get_the_email_twice(settings):
    settings.MAILERS = {"default": {"BACKEND": "tests.backends.MailAcceptedThenQuitFails", "OPTIONS": {}}}
    tenant = new_york_tenant()

    for moment in hourly(SIGNUP, 3):
        tick_at(moment)

    welcome = Delivery.objects.for_tenant(tenant).get(step__key="welcome-email")
    assert welcome.status == Delivery.Status.SENT
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_late_tick_at_night_waits_for_the_morning_window():
    tenant = new_york_tenant()
    tick_at(SIGNUP)
    # Day 3 was due at 09:00 New York on 5 Nov; the tick was down until 23:00 that night.
    late = datetime(2026, 11, 6, 4, 0, tzinfo=UTC)  # 23:00 in New York
    tick_at(late)
    activation = Delivery.objects.for_tenant(tenant).get(step__key="activation-low")
    assert activation.status == Delivery.Status.SCHEDULED
    assert activation.reason == "waiting for the tenant's send window"
    for moment in hourly(late, 12):
        tick_at(moment)
    activation.refresh_from_db()
    assert activation.status == Delivery.Status.SENT
    assert activation.sent_at.astimezone(NEW_YORK).hour == 9


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_starts_of_one_playbook_at_once_make_one_run():
    from playbooks.models import Playbook, Run
    from playbooks.scheduling import RunNotStarted, run_start_manual

    from .factories import UserFactory

    tenant = new_york_tenant()
    staff = UserFactory(username="maria", roles=["csm"])
    playbook = Playbook.objects.get(slug="at-risk-recovery")
    barrier = threading.Barrier(2)
    results: list = []

    def start() -> None:
        barrier.wait()
        try:
            results.append(run_start_manual(tenant=tenant, playbook=playbook, actor=staff, now=timezone.now()))
        except RunNotStarted as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert Run.objects.for_tenant(tenant).filter(playbook=playbook).count() == 1
    assert sum(isinstance(r, RunNotStarted) for r in results) == 1, results


@pytest.mark.django_db
def test_a_send_claimed_before_touchpoints_had_outbox_messages_still_goes_to_review():
    """A delivery left SENDING by a worker before the upgrade that gave touchpoints outbox
    messages has no message for the outbox's sweeper to find: the playbooks sweeper hands it
    to a person, as before — never resent."""
    from playbooks.dispatch import deliveries_sweep_stuck

    tenant = new_york_tenant()
    tick_at(SIGNUP)
    email = Delivery.objects.for_tenant(tenant).get(step__key="welcome-email")
    Delivery.all_tenants.filter(id=email.id).update(status=Delivery.Status.SENDING, message=None, claimed_at=SIGNUP)

    assert deliveries_sweep_stuck(now=SIGNUP + timedelta(minutes=9)) == 0
    assert deliveries_sweep_stuck(now=SIGNUP + SENDING_TIMEOUT + timedelta(minutes=1)) == 1

    email.refresh_from_db()
    assert email.status == Delivery.Status.NEEDS_REVIEW and "may or may not have gone out" in email.reason
    entry = TimelineEntry.objects.for_tenant(tenant).get(kind="touchpoint.needs_review")
    assert entry.summary.endswith("needs review: the send was interrupted") and entry.data == {"delivery": email.id}
