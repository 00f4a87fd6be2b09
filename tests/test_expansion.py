"""The expansion pipeline (issue 16 §4, seed 004's expansion triggers, seed 001's upsell
moments): once a day the tick opens one opportunity per tenant a trigger finds — a higher
tier's feature asked for, three months over the plan's limit, near the limit, a growing team,
healthy on the plan — pointing at the next tier with the MRR it adds; the CSM moves it open →
proposed → won / lost with a reason, audited and on the timeline; a plan change in Stripe
closes it as won. Every figure here is worked out by hand from the plans' prices: Starter $19,
Professional $49, Business $99."""

from __future__ import annotations

from datetime import date, timedelta
from html import unescape

import pytest
import time_machine
from django.core.exceptions import ValidationError

from health.models import DailyEventUser, DailyRollup, Event
from lifecycle.expansion import expansion_sweep
from lifecycle.models import ExpansionSweep, Opportunity
from lifecycle.reports import monthly_report, report_markdown
from lifecycle.services import opportunity_move
from tenants.models import ApiKey, AuditLog, Tenant, TimelineEntry

from .alert_helpers import NOW, ingest, tenant_at
from .touchpoint_helpers import tick_at

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def live_of(tenant: Tenant) -> Opportunity | None:
    return Opportunity.objects.for_tenant(tenant).filter(stage__in=Opportunity.LIVE).first()


def usage(tenant: Tenant, day: date, count: int, name: str = "call.handled") -> None:
    DailyRollup.objects.create(tenant=tenant, day=day, name=name, count=count)


def users(tenant: Tenant, day: date, *ids: str) -> None:
    for user_id in ids:
        DailyEventUser.objects.create(tenant=tenant, day=day, name="call.handled", user_id=user_id)


def test_each_trigger_opens_one_opportunity_for_the_next_tier(csm):
    old = NOW - 200 * DAY
    # Asked for a Business feature on Starter: the request names the plan, so Business, +$80.
    asker = tenant_at("asker", signed_up_at=old, onboarding=False, csm_owner=csm)
    ingest(asker, "feature.requested", NOW - 2 * DAY, feature="a custom voice", plan="business")
    # Over Starter's 1,000 in each of August, September and October.
    over = tenant_at("over", signed_up_at=old, onboarding=False)
    for month in (8, 9, 10):
        usage(over, date(2026, month, 10), 1001)
    # Two of the three months over: not this trigger.
    twice = tenant_at("twice", signed_up_at=old, onboarding=False)
    for month, count in ((8, 1500), (9, 900), (10, 1500)):
        usage(twice, date(2026, month, 10), count)
    # 850 of 1,000 in the last 30 days on Starter: 85 % ≥ 80 %.
    near = tenant_at("near", signed_up_at=old, onboarding=False)
    usage(near, NOW.date() - 3 * DAY, 850)
    # Professional, 2 users in the 30 days before and 5 in the last 30: ≥ 1.5× and 3 more.
    team = tenant_at("team", signed_up_at=old, onboarding=False, plan="professional")
    users(team, NOW.date() - 40 * DAY, "u1", "u2")
    users(team, NOW.date() - 5 * DAY, "u1", "u2", "u3", "u4", "u5")
    # 2 → 4 users is 2× but only 2 more: not a growing team.
    small = tenant_at("small", signed_up_at=old, onboarding=False)
    users(small, NOW.date() - 40 * DAY, "u1", "u2")
    users(small, NOW.date() - 5 * DAY, "u1", "u2", "u3", "u4")
    # Health 85 after 45 days on Starter; 85 after 20 days is too soon; 79 is not healthy.
    tenant_at("healthy", signed_up_at=NOW - 45 * DAY, onboarding=False, health_score=85.0)
    tenant_at("fresh", signed_up_at=NOW - 20 * DAY, onboarding=False, health_score=85.0)
    tenant_at("meh", signed_up_at=old, onboarding=False, health_score=79.0)
    # On the top tier there is no plan to move to, whatever it does.
    top = tenant_at("top", signed_up_at=old, onboarding=False, plan="business", health_score=95.0)
    ingest(top, "feature.requested", NOW - DAY, feature="more")

    assert expansion_sweep(now=NOW) == (5, 0)

    opened = {
        o.tenant.external_id: (o.trigger, o.from_plan, o.suggested_plan, o.mrr_delta_cents, o.detail)
        for o in Opportunity.all_tenants.select_related("tenant")
    }
    assert opened == {
        "asker": ("feature_requested", "starter", "business", 8000,
                  "Asked for a custom voice on 16 Nov (Business plan)"),
        "over": ("over_limit", "starter", "professional", 3000,
                 "Over the Starter limit of 1,000 call.handled in each of the last 3 months"),
        "near": ("usage_limit", "starter", "professional", 3000,
                 "850 of 1,000 call.handled in 30 days (85 % of the Starter plan)"),
        "team": ("team_growth", "professional", "business", 5000,
                 "5 people used it in the last 30 days, up from 2"),
        "healthy": ("tenure_healthy", "starter", "professional", 3000, "Health 85 after 45 days on Starter"),
    }  # fmt: skip
    assert live_of(asker).owner == csm and live_of(asker).stage == "open"
    assert TimelineEntry.objects.for_tenant(asker).get(kind="expansion.opened").summary == (
        "Expansion opportunity: Asked for a custom voice on 16 Nov (Business plan) → Business"
    )


def test_the_sweep_runs_once_a_day_and_a_tenant_has_one_live_opportunity(csm):
    tenant = tenant_at("near", signed_up_at=NOW - 200 * DAY, onboarding=False)
    usage(tenant, NOW.date() - DAY, 900)
    ingest(tenant, "feature.requested", NOW - DAY, feature="call transcripts")

    tick_at(NOW)
    tick_at(NOW + timedelta(minutes=1))  # the same day: the sweep does not run again
    assert ExpansionSweep.objects.count() == 1
    only = Opportunity.objects.for_tenant(tenant).get()
    # Both triggers found it: the first in the order names it, the other is in its facts.
    assert only.trigger == "feature_requested"
    assert [r["trigger"] for r in only.facts["reasons"]] == ["feature_requested", "usage_limit"]

    tick_at(NOW + DAY)  # the next day's sweep finds it still near the limit: nothing new
    assert ExpansionSweep.objects.count() == 2
    assert Opportunity.objects.for_tenant(tenant).count() == 1

    with pytest.raises(Exception):  # noqa: B017 (the database's own guard)
        Opportunity.objects.create(
            tenant=tenant, trigger="team_growth", detail="x", from_plan="starter", suggested_plan="professional",
            mrr_delta_cents=3000, opened_at=NOW, stage_changed_at=NOW,
        )  # fmt: skip


def test_a_tenant_rests_after_an_answer_unless_it_asks_again(csm):
    tenant = tenant_at("near", signed_up_at=NOW - 200 * DAY, onboarding=False)
    for back in range(0, 120, 10):  # 900 calls every 10 days: always near (and soon over) the limit
        usage(tenant, NOW.date() + 100 * DAY - back * DAY, 900)
    ingest(tenant, "feature.requested", NOW - DAY, feature="call transcripts")
    expansion_sweep(now=NOW)
    opportunity_move(opportunity=live_of(tenant), stage="lost", lost_reason="timing", actor=csm, now=NOW)

    # The request it answered is still in the week's window, and usage is still near the limit
    # (from February over it three months running): the tenant rests for 90 days all the same.
    assert expansion_sweep(now=NOW + DAY) == (0, 0)
    assert expansion_sweep(now=NOW + 89 * DAY) == (0, 0)
    assert expansion_sweep(now=NOW + 91 * DAY) == (1, 0)
    assert live_of(tenant).trigger == "over_limit"


def test_a_feature_asked_for_after_the_answer_opens_another_at_once(csm):
    tenant = tenant_at("asker", signed_up_at=NOW - 200 * DAY, onboarding=False)
    ingest(tenant, "feature.requested", NOW - DAY, feature="call transcripts")
    expansion_sweep(now=NOW)
    opportunity_move(opportunity=live_of(tenant), stage="lost", lost_reason="price", actor=csm, now=NOW)
    ingest(tenant, "feature.requested", NOW + 2 * DAY, feature="a second location", plan="professional")

    assert expansion_sweep(now=NOW + 3 * DAY) == (1, 0)
    assert live_of(tenant).detail == "Asked for a second location on 20 Nov (Professional plan)"


def test_a_plan_change_in_stripe_closes_it_as_won_with_the_mrr_it_added(csm):
    tenant = tenant_at("asker", signed_up_at=NOW - 200 * DAY, onboarding=False, csm_owner=csm)
    ingest(tenant, "feature.requested", NOW - DAY, feature="a second location", plan="professional")
    expansion_sweep(now=NOW)
    # Billing's webhook fold moves Tenant.plan when the subscription changes (billing/mirror.py).
    Tenant.objects.filter(pk=tenant.pk).update(plan="business")

    assert expansion_sweep(now=NOW + DAY) == (0, 1)
    won = Opportunity.objects.for_tenant(tenant).get()
    # It pointed at Professional (+$30); the customer went to Business: +$80 is what was added.
    assert (won.stage, won.mrr_delta_cents, won.won_mrr_cents, won.closed_at) == ("won", 3000, 8000, NOW + DAY)
    assert TimelineEntry.objects.for_tenant(tenant).filter(kind="expansion.stage").get().summary == (
        "Expansion won: moved to Business (+$80 MRR)"
    )


def test_the_csm_moves_it_along_audited_and_bad_moves_are_named(csm):
    tenant = tenant_at("asker", signed_up_at=NOW - 200 * DAY, onboarding=False, csm_owner=csm, name="Acme")
    ingest(tenant, "feature.requested", NOW - DAY, feature="priority support")
    expansion_sweep(now=NOW)
    opportunity = live_of(tenant)

    with pytest.raises(ValidationError) as lost_without_reason:
        opportunity_move(opportunity=opportunity, stage="lost", actor=csm, now=NOW)
    assert lost_without_reason.value.messages == [
        "Say why it was lost: price, not now, no need, went elsewhere, other."
    ]
    with pytest.raises(ValidationError) as unknown:
        opportunity_move(opportunity=opportunity, stage="maybe", actor=csm, now=NOW)
    assert unknown.value.messages == ["“maybe” is not a stage: proposed, won or lost."]
    assert not AuditLog.objects.filter(action="opportunity.stage").exists()

    opportunity_move(opportunity=opportunity, stage="proposed", actor=csm, now=NOW + DAY, note="Offer sent.")
    with pytest.raises(ValidationError) as backwards:
        opportunity_move(opportunity=opportunity, stage="proposed", actor=csm, now=NOW + DAY)
    assert backwards.value.messages == ["This opportunity is proposed: it cannot be moved to proposed."]
    won = opportunity_move(opportunity=opportunity, stage="won", actor=csm, now=NOW + 2 * DAY)
    assert (won.stage, won.won_mrr_cents, won.closed_at, won.note) == ("won", 3000, NOW + 2 * DAY, "Offer sent.")
    with pytest.raises(ValidationError) as closed:
        opportunity_move(opportunity=opportunity, stage="lost", lost_reason="price", actor=csm, now=NOW + 3 * DAY)
    assert closed.value.messages == ["This opportunity is won since 20 Nov: it cannot be moved to lost."]

    logs = AuditLog.objects.filter(action="opportunity.stage").order_by("id")
    assert [(log.before["stage"], log.after["stage"], log.actor) for log in logs] == [
        ("open", "proposed", csm), ("proposed", "won", csm)
    ]  # fmt: skip
    moves = TimelineEntry.objects.for_tenant(tenant).filter(kind="expansion.stage").order_by("at")
    assert list(moves.values_list("summary", flat=True)) == [
        "Expansion proposed: Professional — Offer sent.",
        "Expansion won: Professional (+$30 MRR)",
    ]


@pytest.fixture
def pipeline(csm, cs_lead):
    """Three of the CSM's tenants with opportunities (one open, one proposed, one lost) and
    one of another book's (open)."""
    opportunities = {}
    for external_id, owner in (("one", csm), ("two", csm), ("three", csm), ("other", cs_lead)):
        tenant = tenant_at(external_id, signed_up_at=NOW - 200 * DAY, onboarding=False, csm_owner=owner)
        ingest(tenant, "feature.requested", NOW - DAY, feature="priority support")
        opportunities[external_id] = tenant
    expansion_sweep(now=NOW)
    opportunity_move(opportunity=live_of(opportunities["two"]), stage="proposed", actor=csm, now=NOW)
    opportunity_move(opportunity=live_of(opportunities["three"]), stage="lost", lost_reason="price", actor=csm, now=NOW)
    return opportunities


def test_the_homes_tile_counts_the_pipeline_it_opens(client, csm, pipeline):
    client.force_login(csm)
    with time_machine.travel(NOW, tick=False):
        home = client.get("/admin/customer-success/").content.decode()
        link = f"/admin/customer-success/expansion/?stage=live&amp;csm={csm.id}"
        assert f'<span class="label">Expansion opportunities</span><strong><a href="{link}">2</a>' in home
        listed = client.get(link.replace("&amp;", "&")).content.decode()
    # Two of the CSM's live ones, worth Starter → Professional twice: +$60.
    assert "<strong>2</strong> open or proposed in this CSM's book, worth <strong>$60.00</strong>" in listed
    assert "One Inc" in listed and "Two Inc" in listed and "Three Inc" not in listed and "Other Inc" not in listed
    assert listed.count('name="stage" value="won"') == 2


def test_the_list_filters_by_stage_and_month_and_names_a_bad_filter(client, cs_lead, pipeline):
    client.force_login(cs_lead)
    with time_machine.travel(NOW, tick=False):
        lost = client.get("/admin/customer-success/expansion/?stage=lost&closed=2026-11").content.decode()
        assert "Three Inc" in lost and "Price" in lost and "One Inc" not in lost
        earlier = client.get("/admin/customer-success/expansion/?stage=lost&closed=2026-10").content.decode()
        assert "Three Inc" not in earlier and "No expansion opportunity lost" in earlier
        bad = unescape(client.get("/admin/customer-success/expansion/?stage=maybe&closed=soon&csm=x").content.decode())
    assert "“maybe” is not a stage: showing open or proposed ones." in bad
    assert "“soon” is not a month (YYYY-MM): showing every month." in bad
    assert "“x” is not a CSM: showing everyone's tenants." in bad
    assert "<strong>3</strong> open or proposed, worth <strong>$90.00</strong>" in bad


def test_moving_one_from_the_list_and_who_may(client, csm, billing_ops, pipeline):
    opportunity = live_of(pipeline["one"])
    url = f"/admin/customer-success/expansion/{opportunity.id}/move/"
    client.force_login(billing_ops)
    assert client.post(url, {"stage": "won"}).status_code == 403
    client.force_login(csm)
    with time_machine.travel(NOW, tick=False):
        refused = client.post(url, {"stage": "lost", "next": "/admin/customer-success/expansion/"}, follow=True)
        assert "One Inc: Say why it was lost" in refused.content.decode()
        done = client.post(url, {"stage": "won", "next": "https://evil.example/"}, follow=True)
    assert done.redirect_chain[-1][0] == "/admin/customer-success/expansion/"  # never off-site
    assert "One Inc: the move to Professional is marked won." in done.content.decode()
    assert client.post("/admin/customer-success/expansion/999999/move/", {"stage": "won"}).status_code == 404


def test_the_tenant_page_shows_its_opportunities(client, csm, pipeline):
    client.force_login(csm)
    with time_machine.travel(NOW, tick=False):
        html = client.get("/admin/customer-success/tenants/two/").content.decode()
    section = html.split('id="expansion"')[1].split("</section>")[0]
    assert "Feature request" in section and "Starter → Professional" in section
    assert "Proposed" in section and "+$30.00" in section


def test_the_monthly_report_counts_the_upsells_won_and_the_pipeline(client, csm, cs_lead):
    tenants = {}
    for external_id in ("oct", "byhand", "stripe", "open"):
        tenants[external_id] = tenant_at(external_id, signed_up_at=NOW - 200 * DAY, onboarding=False, csm_owner=csm)
        ingest(tenants[external_id], "feature.requested", NOW - 40 * DAY, feature="priority support")
    expansion_sweep(now=NOW - 39 * DAY)  # 10 Oct: four open, Starter → Professional
    opportunity_move(opportunity=live_of(tenants["oct"]), stage="won", actor=csm, now=NOW - 35 * DAY)  # October
    opportunity_move(opportunity=live_of(tenants["byhand"]), stage="won", actor=csm, now=NOW - 2 * DAY)  # +$30
    Tenant.objects.filter(pk=tenants["stripe"].pk).update(plan="business")
    expansion_sweep(now=NOW - DAY)  # the plan change closes it: Starter → Business, +$80

    report = monthly_report(month=date(2026, 11, 1), now=NOW)
    # November: two won, $30 + $80 = $110 added; the pipeline now: one open, +$30.
    assert (report.won.count, report.won.mrr_cents) == (2, 11000)
    assert (report.pipeline.count, report.pipeline.mrr_cents) == (1, 3000)
    markdown = report_markdown(report)
    assert "- **Upsells Won:** 2 (+$110.00 MRR)" in markdown
    assert "- **Pipeline:** 1 open or proposed, +$30.00 MRR if won" in markdown

    client.force_login(cs_lead)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/admin/customer-success/reports/?month=2026-11").content.decode()
        link = "/admin/customer-success/expansion/?stage=won&amp;closed=2026-11"
        assert f'<a href="{link}"><strong>2</strong></a>' in page
        won = client.get(link.replace("&amp;", "&")).content.decode()
    assert "Byhand Inc" in won and "Stripe Inc" in won and "Oct Inc" not in won


@pytest.mark.parametrize(
    ("properties", "field", "message"),
    [
        ({}, "properties.feature", "A feature.requested event needs properties.feature: what was asked for"),
        ({"feature": "  "}, "properties.feature", "A feature.requested event needs properties.feature"),
        ({"feature": "sso", "plan": "enterprise"}, "properties.plan", "one of starter, professional, business"),
    ],
)
def test_a_bad_feature_request_is_an_ingest_error_for_its_index(api, make_key, properties, field, message):
    tenant_at("acme", signed_up_at=NOW - 10 * DAY, onboarding=False)
    good = {"tenant": "acme", "name": "call.handled", "occurred_at": NOW.isoformat()}
    bad = {"tenant": "acme", "name": "feature.requested", "occurred_at": NOW.isoformat(), "properties": properties}
    key = make_key(ApiKey.Scope.INGEST, name="backend")
    response = api("post", "/api/v1/events/", key=key, json={"events": [good, bad]})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["index"], error["field"]) == (1, field) and message in error["message"]
    assert not Event.all_tenants.exists()
