"""Every escalation rule: opens when its condition holds and not before, once however often it
is evaluated; resolves itself when the condition clears, with the reason; opens a new alert
when the condition comes back."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

import pytest

from alerts.models import Alert, AlertRule
from alerts.services import rule_update, rules_evaluate
from onboarding.models import Milestone, MilestoneProgress, TenantOnboarding
from onboarding.services import milestone_complete
from playbooks.models import Run, Task
from tenants.models import Tenant, TimelineEntry

from .alert_helpers import NOW, active_of, alerts_of, evaluate, ingest, score_on, set_current_score, tenant_at

pytestmark = pytest.mark.django_db


def assert_open_once(tenant: Tenant, rule: str, at) -> Alert:
    evaluate(at)
    evaluate(at)  # a second evaluation of the same moment changes nothing
    evaluate(at + timedelta(minutes=1))
    [alert] = active_of(tenant, rule)
    assert alert.status == Alert.Status.OPEN
    # Nothing opened and resolved again on the way: the earlier ones are the resolved ones before it.
    assert [a.id for a in alerts_of(tenant, rule) if a.opened_at >= at] == [alert.id]
    return alert


def assert_resolved_by_itself(alert: Alert, at, reason: str) -> None:
    evaluate(at)
    alert.refresh_from_db()
    assert alert.status == Alert.Status.RESOLVED
    assert alert.resolved_at == at and alert.resolved_by is None
    assert alert.resolution == f"auto-resolved: {reason}"
    assert "at_resolution" in alert.facts
    kinds = list(TimelineEntry.objects.for_tenant(alert.tenant).values_list("kind", flat=True))
    assert "alert.opened" in kinds and "alert.resolved" in kinds


def assert_reopened_as_new(tenant: Tenant, rule: str, first: Alert, at) -> None:
    evaluate(at)
    alerts = alerts_of(tenant, rule)
    assert [a.status for a in alerts] == [Alert.Status.RESOLVED, Alert.Status.OPEN]
    assert alerts[0].id == first.id and alerts[1].id != first.id


def test_onboarding_incomplete_after_72_hours_then_done_then_back():
    signup = NOW - timedelta(days=10)
    tenant = tenant_at(signed_up_at=signup)

    evaluate(signup + timedelta(hours=71, minutes=59))
    assert alerts_of(tenant, "onboarding_incomplete") == []

    alert = assert_open_once(tenant, "onboarding_incomplete", signup + timedelta(hours=72))
    required = list(Milestone.objects.filter(template=tenant.onboarding.template, required=True).order_by("position"))
    assert alert.rationale.startswith("required milestones open after 72 h: ")
    assert required[0].title.lower() in alert.rationale
    assert alert.facts["open_milestones"] == [m.title for m in required]
    assert alert.severity == "P2" and alert.route == "cs_lead" and alert.assignee is None
    # The rule starts the white-glove setup playbook for the alert (seed 000: screenshare).
    run = Run.objects.for_tenant(tenant).get(playbook__slug="white-glove-setup")
    assert run.enrolment_key == f"alert:{alert.id}"

    done_at = signup + timedelta(hours=80)
    for m in required:
        milestone_complete(tenant=tenant, milestone=m, source=MilestoneProgress.Source.STAFF, now=done_at, note="live")
    assert_resolved_by_itself(alert, done_at + timedelta(minutes=1), "every required onboarding milestone is done")

    # An admin reopens the onboarding (a milestone's progress deleted, completion cleared in
    # Django admin): the condition is back, and so is an alert — a new one.
    MilestoneProgress.objects.for_tenant(tenant).filter(milestone=required[-1]).delete()
    TenantOnboarding.objects.for_tenant(tenant).update(completed_at=None)
    assert_reopened_as_new(tenant, "onboarding_incomplete", alert, done_at + timedelta(minutes=2))


def test_no_activity_after_seven_silent_days():
    tenant = tenant_at(signed_up_at=NOW - timedelta(days=30))
    last = NOW - timedelta(days=6)
    ingest(tenant, "call.handled", last)

    evaluate(NOW)
    assert alerts_of(tenant, "no_activity") == []

    alert = assert_open_once(tenant, "no_activity", last + timedelta(days=7))
    assert alert.rationale.startswith("no events for 7 days (last on")
    assert alert.assignee is None and alert.route == "csm"

    again = last + timedelta(days=7, hours=2)
    ingest(tenant, "call.handled", again)
    assert_resolved_by_itself(alert, again + timedelta(minutes=1), "events arrive again")
    assert_reopened_as_new(tenant, "no_activity", alert, again + timedelta(days=7, minutes=1))


def test_no_activity_goes_to_the_tenants_csm(csm):
    tenant = tenant_at(signed_up_at=NOW - timedelta(days=30), csm_owner=csm)
    evaluate(NOW)
    [alert] = active_of(tenant, "no_activity")
    assert alert.assignee == csm
    assert alert.rationale.startswith("no events since signing up 30 days ago")


def test_outreach_idle_only_for_tenants_that_send_outreach():
    sender = tenant_at("sender", signed_up_at=NOW - timedelta(days=40))
    never = tenant_at("never", signed_up_at=NOW - timedelta(days=40))
    ingest(sender, "outreach.sent", NOW - timedelta(days=6))
    ingest(never, "call.handled", NOW - timedelta(hours=1))

    evaluate(NOW)
    assert alerts_of(sender, "outreach_idle") == [] and alerts_of(never, "outreach_idle") == []

    # Seven whole days after the day of the last send, not six and a bit.
    evaluate(NOW.replace(hour=0) + timedelta(days=1))
    assert alerts_of(sender, "outreach_idle") == []
    alert = assert_open_once(sender, "outreach_idle", NOW.replace(hour=0) + timedelta(days=2))
    assert alert.rationale == f"no outreach.sent for 7 days (last on {(NOW - timedelta(days=6)):%-d %b})"
    assert alert.severity == "P3"
    assert alerts_of(never, "outreach_idle") == []

    later = NOW + timedelta(days=2, hours=1)
    ingest(sender, "outreach.sent", later)
    assert_resolved_by_itself(alert, later + timedelta(minutes=1), "outreach is being sent again")
    assert_reopened_as_new(sender, "outreach_idle", alert, later + timedelta(days=8))


def test_health_critical_opens_resolves_and_reopens_and_starts_at_risk_recovery():
    tenant = tenant_at(signed_up_at=NOW - timedelta(days=40))
    set_current_score(tenant, 61, NOW)
    evaluate(NOW)
    assert alerts_of(tenant, "health_critical") == []

    set_current_score(tenant, 42, NOW)
    alert = assert_open_once(tenant, "health_critical", NOW + timedelta(minutes=1))
    assert alert.rationale == "health score 42 is in the critical bucket"
    assert Run.objects.for_tenant(tenant).filter(playbook__slug="at-risk-recovery", enrolment_key=f"alert:{alert.id}")

    set_current_score(tenant, 65, NOW)
    assert_resolved_by_itself(alert, NOW + timedelta(minutes=5), "the health score left the critical bucket")
    set_current_score(tenant, 30, NOW)
    assert_reopened_as_new(tenant, "health_critical", alert, NOW + timedelta(minutes=6))
    # at-risk-recovery re-enrols once per 30 days: the second alert does not start a second run.
    assert Run.objects.for_tenant(tenant).filter(playbook__slug="at-risk-recovery").count() == 1


def test_health_drop_of_twenty_percent_week_over_week():
    tenant = tenant_at(signed_up_at=NOW - timedelta(days=40))
    score_on(tenant, NOW.date() - timedelta(days=7), 80)
    set_current_score(tenant, 65, NOW)  # down 18.75 %
    evaluate(NOW)
    assert alerts_of(tenant, "health_drop") == []

    set_current_score(tenant, 64, NOW)  # down exactly 20 %
    alert = assert_open_once(tenant, "health_drop", NOW + timedelta(minutes=1))
    assert alert.rationale == "health score down 20 % in a week: 80 → 64"
    assert alert.facts == {"score_week_ago": 80, "score": 64, "drop_pct": 20}

    set_current_score(tenant, 75, NOW)
    assert_resolved_by_itself(
        alert, NOW + timedelta(minutes=2), "the health score is no longer down that much on a week ago"
    )
    set_current_score(tenant, 50, NOW)
    assert_reopened_as_new(tenant, "health_drop", alert, NOW + timedelta(minutes=3))


def test_usage_drop_of_half_week_over_week_counts_complete_days_only():
    tenant = tenant_at(signed_up_at=NOW - timedelta(days=40))
    ingest(tenant, "call.handled", NOW - timedelta(days=10), count=40, now=NOW)  # the week before
    ingest(tenant, "call.handled", NOW - timedelta(days=3), count=21, now=NOW)  # last week: -47.5 %
    ingest(tenant, "error.raised", NOW - timedelta(days=3), count=30, now=NOW)  # not usage
    evaluate(NOW)
    assert alerts_of(tenant, "usage_drop") == []

    # Next morning the 21 calls are still in the last 7 days, the 40 still in the 7 before; a
    # separate tenant whose usage halved alerts.
    dropped = tenant_at("dropped", signed_up_at=NOW - timedelta(days=40))
    ingest(dropped, "call.handled", NOW - timedelta(days=10), count=40, now=NOW)
    ingest(dropped, "call.handled", NOW - timedelta(days=3), count=20, now=NOW)
    # Today's events do not count (an incomplete day): 100 calls today change nothing yet.
    ingest(dropped, "call.handled", NOW - timedelta(hours=1), count=100, now=NOW)
    alert = assert_open_once(dropped, "usage_drop", NOW + timedelta(minutes=1))
    assert alert.rationale == "usage down 50 % week over week: 40 → 20 events"
    assert alerts_of(tenant, "usage_drop") == []

    # The next day, yesterday's 100 calls are a complete day of last week: cleared.
    tomorrow = NOW + timedelta(days=1)
    assert_resolved_by_itself(alert, tomorrow, "usage is no longer down that much week over week")
    # A week on, those 120 are "the week before", and nothing since: down 100 %.
    assert_reopened_as_new(dropped, "usage_drop", alert, NOW + timedelta(days=8))


def test_usage_drop_ignores_small_tenants():
    tenant = tenant_at(signed_up_at=NOW - timedelta(days=40))
    ingest(tenant, "call.handled", NOW - timedelta(days=10), count=19, now=NOW)  # under min_events
    evaluate(NOW)
    assert alerts_of(tenant, "usage_drop") == []


def test_error_spike_above_the_28_day_p95():
    tenant = tenant_at(signed_up_at=NOW - timedelta(days=60))
    for days_ago in range(1, 29):
        ingest(tenant, "error.raised", NOW - timedelta(days=days_ago), count=1 + days_ago % 3, now=NOW)  # 1–3 a day
    ingest(tenant, "error.raised", NOW - timedelta(hours=2), count=3, now=NOW)
    evaluate(NOW)
    assert alerts_of(tenant, "error_spike") == []  # 3 today: not above the p95 (3), and under 5

    ingest(tenant, "error.raised", NOW - timedelta(hours=1), count=3, now=NOW)  # 6 today
    alert = assert_open_once(tenant, "error_spike", NOW + timedelta(minutes=1))
    assert alert.rationale == "6 error.raised today (UTC), above the 28-day p95 of 3"

    # Just after midnight yesterday's spike still counts: no resolve-and-reopen at 00:00.
    tomorrow = NOW.replace(hour=0) + timedelta(days=1, minutes=5)
    evaluate(tomorrow)
    assert active_of(tenant, "error_spike") == [alert]
    day_after = tomorrow + timedelta(days=1)
    assert_resolved_by_itself(alert, day_after, "today's errors are back within the usual range")
    ingest(tenant, "error.raised", day_after, count=9, now=day_after + timedelta(minutes=1))
    assert_reopened_as_new(tenant, "error_spike", alert, day_after + timedelta(minutes=2))


def test_nps_detractor_latest_answer_counts():
    tenant = tenant_at(signed_up_at=NOW - timedelta(days=60))
    ingest(tenant, "nps.submitted", NOW - timedelta(days=3), score=9)
    evaluate(NOW)
    assert alerts_of(tenant, "nps_detractor") == []

    ingest(tenant, "nps.submitted", NOW - timedelta(hours=3), score=3, comment="Calls drop at lunch")
    alert = assert_open_once(tenant, "nps_detractor", NOW)
    assert alert.rationale == f"NPS 3 on {NOW:%-d %b}: “Calls drop at lunch”"
    assert alert.severity == "P3"

    ingest(tenant, "nps.submitted", NOW + timedelta(hours=1), score=10)
    assert_resolved_by_itself(alert, NOW + timedelta(hours=1, minutes=1), "no detractor answer in the window any more")
    ingest(tenant, "nps.submitted", NOW + timedelta(hours=2), score=2)
    assert_reopened_as_new(tenant, "nps_detractor", alert, NOW + timedelta(hours=2, minutes=1))


def test_billing_rules_run_and_the_migration_enables_rows_created_disabled(cs_lead):
    """Before billing they were created disabled (their facts did not exist); migration 0005
    enables those rows — but not a rule a person has since disabled on purpose. It runs with the
    models as they were at 0005 (AlertRule still in playbooks), as migrate runs it."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    apps = MigrationLoader(connection).project_state(("playbooks", "0005_billing_rules_enabled")).apps
    AlertRule.objects.filter(slug__in=["subscription_past_due", "expansion_signal"]).update(enabled=False)
    AlertRule.objects.filter(slug="expansion_signal").update(updated_by=cs_lead)
    import_module("playbooks.migrations.0005_billing_rules_enabled").enable(apps, None)
    assert AlertRule.objects.get(slug="subscription_past_due").enabled
    assert not AlertRule.objects.get(slug="expansion_signal").enabled
    assert "not available yet" not in rules_evaluate(now=NOW).summary()


def test_churned_tenants_never_alert_and_their_alerts_resolve():
    tenant = tenant_at(signed_up_at=NOW - timedelta(days=30))
    evaluate(NOW)
    [alert] = active_of(tenant, "no_activity")
    Tenant.objects.filter(id=tenant.id).update(lifecycle_stage=Tenant.LifecycleStage.CHURNED, churned_at=NOW)
    assert_resolved_by_itself(alert, NOW + timedelta(minutes=1), "the tenant churned")
    evaluate(NOW + timedelta(days=10))
    assert active_of(tenant, "no_activity") == []


def test_a_person_resolving_while_the_condition_holds_does_not_reopen_it_until_it_clears(csm):
    from alerts.services import alert_resolve

    tenant = tenant_at(signed_up_at=NOW - timedelta(days=30))
    evaluate(NOW)
    [alert] = active_of(tenant, "no_activity")
    alert_resolve(alert=alert, actor=csm, note="Owner on holiday until December", now=NOW)

    evaluate(NOW + timedelta(minutes=1))
    evaluate(NOW + timedelta(days=3))
    assert active_of(tenant, "no_activity") == []  # still silent, still resolved

    ingest(tenant, "call.handled", NOW + timedelta(days=4))
    evaluate(NOW + timedelta(days=4, minutes=1))  # the condition cleared: re-armed
    evaluate(NOW + timedelta(days=11, minutes=2))  # silent for 7 days again
    assert [a.status for a in alerts_of(tenant, "no_activity")] == ["resolved", "open"]


def test_disabling_a_rule_resolves_its_alerts_and_stops_it(cs_lead):
    tenant = tenant_at(signed_up_at=NOW - timedelta(days=30))
    evaluate(NOW)
    [alert] = active_of(tenant, "no_activity")
    rule = AlertRule.objects.get(slug="no_activity")
    _, errors = rule_update(
        rule=rule, actor=cs_lead, enabled=False, severity="P2", route="csm", params={"days": 7}, now=NOW
    )
    assert errors == {}
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolution == "the rule was disabled by cs-lead"
    evaluate(NOW + timedelta(minutes=1))
    assert active_of(tenant, "no_activity") == []


def test_a_tuned_parameter_applies_at_the_next_evaluation(cs_lead):
    tenant = tenant_at(signed_up_at=NOW - timedelta(days=30))
    ingest(tenant, "call.handled", NOW - timedelta(days=4))
    evaluate(NOW)
    assert active_of(tenant, "no_activity") == []
    rule = AlertRule.objects.get(slug="no_activity")
    _, errors = rule_update(
        rule=rule, actor=cs_lead, enabled=True, severity="P3", route="csm", params={"days": "3"}, now=NOW
    )
    assert errors == {}
    evaluate(NOW + timedelta(minutes=1))
    [alert] = active_of(tenant, "no_activity")
    assert alert.severity == "P3" and alert.rationale.startswith("no events for 4 days")


@pytest.mark.parametrize(
    ("slug", "params", "field", "message"),
    [
        ("no_activity", {"days": "-3"}, "days", "Days: must be from 1 to 365, not -3."),
        ("no_activity", {"days": "seven"}, "days", "Days: “seven” is not a whole number."),
        ("health_drop", {"percent": "120"}, "percent", "Drop of at least: must be from 1 % to 100 %, not 120 %."),
        (
            "outreach_idle",
            {"days": "7", "event": "Outreach Sent!"},
            "event",
            "Event name: “Outreach Sent!” is not an event name: lower-case letters, digits, “_” and “.”, "
            "starting with a letter.",
        ),
        ("no_activity", {"days": "7", "hours": "3"}, "hours", "“hours” is not a parameter of this rule."),
        ("no_activity", {}, "days", "Days is required."),
    ],
)
def test_out_of_range_parameters_are_refused_with_the_reason(cs_lead, slug, params, field, message):
    evaluate(NOW)
    rule = AlertRule.objects.get(slug=slug)
    before = dict(rule.params)
    _, errors = rule_update(rule=rule, actor=cs_lead, enabled=True, severity="P2", route="csm", params=params, now=NOW)
    assert errors[field] == message
    rule.refresh_from_db()
    assert rule.params == before


def test_white_glove_tasks_reach_the_cs_lead_queue_at_the_next_dispatch():
    from playbooks.dispatch import deliveries_dispatch_due

    signup = NOW - timedelta(days=4)
    tenant = tenant_at(signed_up_at=signup)
    evaluate(NOW)
    deliveries_dispatch_due(now=NOW)
    titles = {t.role: t.title for t in Task.objects.for_tenant(tenant)}
    assert titles["cs_lead"].startswith(f"Stalled onboarding: review {tenant.name}")
    assert titles["csm"] == f"Schedule a screenshare with there and complete {tenant.name}'s setup live"
