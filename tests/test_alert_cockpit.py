"""The alert queue, its htmx actions, the weekly export, the rules pages and GET /api/v1/alerts/."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from alerts.models import Alert, AlertRule
from tenants.models import ApiKey, AuditLog

from .alert_helpers import active_of, evaluate, tenant_at

pytestmark = pytest.mark.django_db
QUEUE = "/admin/customer-success/alerts/"


@pytest.fixture
def now():
    moment = timezone.now().replace(microsecond=0)
    with time_machine.travel(moment, tick=False):
        yield moment


@pytest.fixture
def silent(now, csm, tenant_a):
    """acme (tenant A) silent for 30 days: a no_activity alert for its CSM."""
    type(tenant_a).objects.filter(id=tenant_a.id).update(signed_up_at=now - timedelta(days=30), csm_owner=csm)
    tenant_a.refresh_from_db()
    evaluate(now)
    return active_of(tenant_a, "no_activity")[0]


def test_the_queue_shows_the_alert_with_its_reason_and_sla(client, csm, silent):
    client.force_login(csm)
    page = client.get(QUEUE).content.decode()
    assert f'id="alert-{silent.id}"' in page
    assert "no events since signing up 30 days ago" in page
    assert "Acme Plumbing" in page and "Within" in page


def test_the_queue_filters_and_says_when_a_filter_is_unknown(client, csm, silent):
    client.force_login(csm)
    assert f'id="alert-{silent.id}"' not in client.get(QUEUE + "?severity=P1").content.decode()
    assert f'id="alert-{silent.id}"' in client.get(QUEUE + "?rule=no_activity&assignee=me").content.decode()
    page = client.get(QUEUE + "?severity=P9").content.decode()
    assert "“P9” is not a severity filter; it was ignored." in page
    for odd in ("99999999999999999999999", "²"):
        assert "is not an assignee filter" in client.get(QUEUE + f"?assignee={odd}").content.decode()


def test_htmx_acknowledge_swaps_the_row_in_place(client, csm, silent):
    client.force_login(csm)
    response = client.post(f"{QUEUE}{silent.id}/acknowledge/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="alert-{silent.id}"') and "Acknowledged" in body
    silent.refresh_from_db()
    assert silent.status == "acknowledged" and silent.acknowledged_by == csm


def test_a_snooze_in_the_past_is_refused_in_the_row(client, csm, silent, now):
    client.force_login(csm)
    past = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"{QUEUE}{silent.id}/snooze/", {"until": past}, headers={"HX-Request": "true"})
    assert response.status_code == 422  # swapped like a success: the row, with its error
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="alert-{silent.id}"') and 'name="until"' in body
    assert '<p class="error" role="alert">A snooze must end in the future.</p>' in body
    silent.refresh_from_db()
    assert silent.status == "open"
    neither = client.post(f"{QUEUE}{silent.id}/snooze/", {"until": ""}, headers={"HX-Request": "true"})
    assert neither.status_code == 422 and "Say until when to snooze" in neither.content.decode()


def test_snooze_presets_and_resolve_without_htmx(client, csm, silent):
    client.force_login(csm)
    assert client.post(f"{QUEUE}{silent.id}/snooze/", {"preset": "tomorrow"}).status_code == 302
    silent.refresh_from_db()
    assert silent.status == "snoozed" and silent.snoozed_until.hour == 9
    response = client.post(f"{QUEUE}{silent.id}/resolve/", {"note": "Owner confirmed holidays"}, follow=True)
    assert "Resolved: no_activity for Acme Plumbing." in response.content.decode()


def test_billing_ops_see_the_billing_queue_only(client, billing_ops, silent):
    client.force_login(billing_ops)
    assert f'id="alert-{silent.id}"' not in client.get(QUEUE).content.decode()
    assert client.post(f"{QUEUE}{silent.id}/acknowledge/").status_code == 404
    silent.refresh_from_db()
    assert silent.status == "open"


def test_an_unknown_action_is_refused(client, csm, silent):
    client.force_login(csm)
    response = client.post(f"{QUEUE}{silent.id}/delete/", headers={"HX-Request": "true"})
    assert response.status_code == 422 and "“delete” is not something one can do" in response.content.decode()


def test_weekly_export_csv(client, cs_lead, silent, now, tenant_b):
    client.force_login(cs_lead)
    from alerts.selectors import week_of

    type(tenant_b).objects.filter(id=tenant_b.id).update(name="=HYPERLINK(evil)", signed_up_at=now - timedelta(days=30))
    evaluate(now + timedelta(seconds=1))
    response = client.get(f"{QUEUE}export.csv?week={week_of(now)}")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    ours = next(r for r in rows if r["id"] == str(silent.id))
    assert ours["rule"] == "no_activity" and ours["severity"] == "P2" and ours["sla_outcome"] == "within"
    assert ours["opened_at"] == now.isoformat()
    assert {r["tenant_name"] for r in rows if r["tenant"] == "globex"} == {"'=HYPERLINK(evil)"}
    for week in ("2026-W99", "2026-W47%0A", "2026-W4_7"):
        bad = client.get(f"{QUEUE}export.csv?week={week}")
        assert bad.status_code == 400 and "is not an ISO week" in bad.content.decode()


def test_rules_page_and_a_rejected_then_accepted_edit(client, cs_lead):
    client.force_login(cs_lead)
    page = client.get(f"{QUEUE}rules/").content.decode()
    assert "subscription_past_due" in page and "expansion_signal" in page
    assert "not available yet" not in page  # billing brought every rule's facts
    url = f"{QUEUE}rules/no_activity/"
    response = client.post(url, {"enabled": "1", "severity": "P2", "route": "csm", "days": "0"})
    assert response.status_code == 400
    assert "Days: must be from 1 to 365, not 0." in response.content.decode()
    response = client.post(url, {"enabled": "1", "severity": "P3", "route": "csm", "days": "10"})
    assert response.status_code == 302
    rule = AlertRule.objects.get(slug="no_activity")
    assert rule.params == {"days": 10} and rule.severity == "P3" and rule.updated_by == cs_lead
    assert AuditLog.objects.filter(action="alert_rule.update", actor=cs_lead).count() == 1


def test_csms_cannot_edit_rules(client, csm):
    client.force_login(csm)
    assert client.get(f"{QUEUE}rules/no_activity/").status_code == 403


def test_the_tenant_page_lists_its_alerts_with_the_reason(client, csm, silent):
    client.force_login(csm)
    page = client.get("/admin/customer-success/tenants/acme/").content.decode()
    assert 'id="alerts"' in page and "no events since signing up 30 days ago" in page


def test_queue_query_count_is_pinned(client, csm, silent, now, django_assert_max_num_queries):
    for i in range(5):
        tenant_at(f"more-{i}", signed_up_at=now - timedelta(days=30), onboarding=False, csm_owner=csm)
    evaluate(now + timedelta(seconds=1))
    client.force_login(csm)
    # Not one query per alert: session, user, roles, messages…, the queue, counts, staff, attainment.
    with django_assert_max_num_queries(20):
        assert client.get(QUEUE).status_code == 200


# --- API ---------------------------------------------------------------------------------------


def test_api_lists_alerts_with_filters(api, read_key, silent):
    response = api("get", "/api/v1/alerts/?rule=no_activity&status=open", key=read_key)
    assert response.status_code == 200
    [item] = [a for a in response.json() if a["id"] == silent.id]
    assert item["tenant"] == "acme" and item["rule"] == "no_activity" and item["severity"] == "P2"
    assert item["assignee"] == "csm" and item["rationale"].startswith("no events since signing up")
    assert set(item) == {
        "id",
        "tenant",
        "rule",
        "severity",
        "status",
        "opened_at",
        "acknowledged_at",
        "resolved_at",
        "assignee",
        "rationale",
    }


def test_api_refuses_bad_filters(api, read_key, silent):
    response = api("get", "/api/v1/alerts/?status=closed", key=read_key)
    assert response.status_code == 400
    assert "status must be one of" in str(response.json())
    assert api("get", "/api/v1/alerts/?rule=nope", key=read_key).status_code == 400
    assert api("get", "/api/v1/alerts/?opened_after=yesterday", key=read_key).status_code == 400


def test_a_tenant_bound_key_sees_only_its_tenant(api, make_key, silent, tenant_b, now):
    type(tenant_b).objects.filter(id=tenant_b.id).update(signed_up_at=now - timedelta(days=30))
    evaluate(now + timedelta(seconds=1))
    key_b = make_key(ApiKey.Scope.READ, tenant=tenant_b)
    listed = api("get", "/api/v1/alerts/", key=key_b).json()
    assert listed and {a["tenant"] for a in listed} == {"globex"}
    assert api("get", "/api/v1/alerts/?tenant=acme", key=key_b).status_code == 404
    assert Alert.all_tenants.filter(tenant__external_id="acme").exists()


def test_billing_ops_do_not_see_other_queues_alerts_on_the_tenant_page(client, billing_ops, silent):
    client.force_login(billing_ops)
    page = client.get("/admin/customer-success/tenants/acme/").content.decode()
    section = page[page.index('id="alerts"') :].split("</section>")[0]
    assert "No alerts for this tenant." in section and "no events since signing up" not in section


def test_the_sla_charts_say_the_weeks_numbers(client, cs_lead):
    """The two charts above the attainment table write each week's number on its column, the
    axis from 0 to the top; with no alert yet every week reads 0 opened and “—” attained."""
    client.force_login(cs_lead)
    html = client.get("/admin/customer-success/alerts/").content.decode()
    assert 'aria-labelledby="volume-caption"' in html and 'aria-labelledby="attainment-caption"' in html
    attainment = html[html.index('aria-labelledby="attainment-caption"') :]
    assert attainment.count(">—</text>") == 8 and ">100%</text>" in attainment


def test_columns_are_scaled_to_the_axis_by_hand():
    from core.charts import columns

    chart = columns([("W1", 50), ("W2", 100), ("W3", None)], top=100, unit="%", height=100)
    assert [(c.text, c.height, c.y, c.x) for c in chart.columns] == [
        ("50%", 50, 50, 40),
        ("100%", 100, 0, 74),
        ("—", 0, 100, 108),
    ]
    assert (chart.top_label, chart.width) == ("100%", 142)
    # Without a top, the largest value is the top.
    assert columns([("a", 3), ("b", 6)]).columns[0].height == 50


def test_an_alert_is_acknowledged_from_the_tenant_page(client, csm, silent):
    client.force_login(csm)
    page = "/admin/customer-success/tenants/acme/"
    assert "Acknowledge No activity" in client.get(page).content.decode()
    response = client.post(f"/admin/customer-success/alerts/{silent.id}/acknowledge/", {"next": page + "#alerts"})
    assert response.status_code == 302 and response["Location"] == page + "#alerts"
    silent.refresh_from_db()
    assert (silent.status, silent.acknowledged_by) == ("acknowledged", csm)
    assert "Acknowledge No activity" not in client.get(page).content.decode()
