"""System status (issue 15, seed 000's synthetic monitors): the tick's lag, the task queue, the
outbox's failures and reviews, Stripe's and Twilio's webhooks (the newest accepted, the last
24 h's refusals and failures, counted as the real endpoints answer) and ingest freshness — each judged against
thresholds it shows — as a staff page and as JSON for an uptime checker at GET
/api/v1/status/ (CONTRACTS.md): 200 while ok or degraded, 503 when down."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe
import time_machine
from twilio.request_validator import RequestValidator

from billing import payloads
from core.ticks import run_tick
from messaging.models import Message
from tenants.models import ApiKey

from .alert_helpers import NOW, ingest, tenant_at
from .stripe_fake import WEBHOOK_SECRET, use_fake_stripe

pytestmark = pytest.mark.django_db
STATUS_API = "/api/v1/status/"


def checks(api, key: str, at) -> tuple[int, dict, dict[str, dict]]:
    with time_machine.travel(at, tick=False):
        response = api("get", STATUS_API, key=key)
    body = response.json()
    return response.status_code, body, {c["name"]: c for c in body["checks"]}


def message(n: int, status: str, purpose: str = "alert.push") -> Message:
    return Message(
        dedupe_key=f"test:{n}",
        purpose=purpose,
        channel="email",
        recipient=f"csm{n}@example.com",
        body="An alert opened",
        status=status,
        created_at=NOW - timedelta(hours=1),
        due_at=NOW - timedelta(hours=1),
    )


def test_before_any_tick_the_product_is_down_and_says_why(api, read_key):
    status, body, by_name = checks(api, read_key, NOW)

    assert status == 503 and body["status"] == "down"
    assert by_name["tick"]["status"] == "down" and by_name["tick"]["value"] == "never"
    assert "Celery beat" in by_name["tick"]["detail"]
    assert set(by_name) == {
        "tick",
        "queue",
        "outbox_failures",
        "outbox_review",
        "stripe_webhooks",
        "twilio_webhooks",
        "ingest",
    }
    assert all({"name", "status", "value", "threshold", "detail"} == set(c) for c in body["checks"])


def test_the_tick_lag_is_ok_then_degraded_then_down(api, read_key, settings):
    settings.TICK_MAX_AGE_SECONDS = 300
    tenant = tenant_at("acme", signed_up_at=NOW - timedelta(days=10))
    ingest(tenant, "call.handled", NOW - timedelta(minutes=5), now=NOW - timedelta(minutes=4))
    with time_machine.travel(NOW, tick=False):
        run_tick(now=NOW)

    # 1 min after: fine; 6 min: degraded (over 300 s); 16 min: down (over 900 s).
    assert checks(api, read_key, NOW + timedelta(minutes=1))[2]["tick"]["status"] == "ok"
    status, _, by_name = checks(api, read_key, NOW + timedelta(minutes=6))
    assert (status, by_name["tick"]["status"], by_name["tick"]["value"]) == (200, "degraded", "6 min ago")
    assert by_name["tick"]["threshold"] == "degraded after 5 min, down after 15 min"
    assert checks(api, read_key, NOW + timedelta(minutes=16))[:2][0] == 503
    # The newest event arrived 4 min before the tick: 10 min old at +6 min, within the hour,
    # the one event of that hour; at +70 min it is no longer in the last hour's count.
    assert (by_name["ingest"]["status"], by_name["ingest"]["value"]) == ("ok", "newest 10 min old · 1 in the last hour")
    later = checks(api, read_key, NOW + timedelta(minutes=70))[2]["ingest"]
    assert later["value"] == "newest 74 min old · 0 in the last hour"


def test_failed_and_interrupted_messages_degrade_or_take_the_outbox_down(api, read_key):
    # 2 failed of 12: under the 5-failure floor, so not judged yet; one alert push in review.
    Message.objects.bulk_create(
        [message(n, "sent") for n in range(10)]
        + [message(10, "failed"), message(11, "failed"), message(12, "needs_review")]
    )
    by_name = checks(api, read_key, NOW)[2]
    assert (by_name["outbox_failures"]["status"], by_name["outbox_failures"]["value"]) == ("ok", "2 failed, 10 sent")
    assert (by_name["outbox_review"]["status"], by_name["outbox_review"]["value"]) == ("degraded", "1")

    # 5 failed of 15: a third failed, over the 25 % line.
    Message.objects.bulk_create([message(n, "failed") for n in range(13, 16)])
    by_name = checks(api, read_key, NOW)[2]
    assert (by_name["outbox_failures"]["status"], by_name["outbox_failures"]["value"]) == ("down", "5 failed, 10 sent")


def test_keys_that_may_not_read_it_are_refused(api, make_key):
    tenant = tenant_at("acme", signed_up_at=NOW - timedelta(days=10))

    assert api("get", STATUS_API).status_code == 401
    assert api("get", STATUS_API, key=make_key(ApiKey.Scope.INGEST)).status_code == 403
    bound = api("get", STATUS_API, key=make_key(ApiKey.Scope.READ, tenant=tenant))
    assert bound.status_code == 403 and "bound to one tenant" in bound.json()["error"]


def test_staff_read_the_same_checks_with_their_thresholds_and_the_jobs(client, csm):
    with time_machine.travel(NOW, tick=False):
        run_tick(now=NOW)
    client.force_login(csm)

    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        html = client.get("/admin/customer-success/status/").content.decode()

    assert "Last tick" in html and "1 min ago" not in html and "60 s ago" in html
    assert "degraded after 5 min, down after 15 min" in html
    assert "<code>playbooks.dispatch</code>" in html and "<code>alerts.evaluate</code>" in html


TWILIO_TOKEN = "0123456789abcdef0123456789abcdef"


def stripe_webhook(client, n: int, *, secret: str = WEBHOOK_SECRET) -> int:
    """Posts a customer.created event (one we record and do not act on), signed as Stripe does."""
    body = payloads.event_payload(
        event_type="customer.created", obj={"id": f"cus_{n}", "object": "customer"}, created=NOW, event_id=f"evt_{n}"
    )
    signature = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=int(NOW.timestamp()))
    return client.post(
        "/webhooks/stripe/", data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    ).status_code


def twilio_inbound(client, *, token: str = TWILIO_TOKEN) -> int:
    params = {"From": "+14155550123", "Body": "HELP", "MessageSid": "SM" + "c3" * 16}
    signature = RequestValidator(token).compute_signature("http://testserver/webhooks/twilio/inbound/", params)
    return client.post("/webhooks/twilio/inbound/", data=params, headers={"X-Twilio-Signature": signature}).status_code


def test_provider_webhooks_show_the_newest_and_the_refusals_of_the_last_day(api, read_key, client, settings):
    use_fake_stripe(settings)
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    by_name = checks(api, read_key, NOW)[2]
    assert (by_name["stripe_webhooks"]["status"], by_name["stripe_webhooks"]["value"]) == ("degraded", "none yet")
    assert (by_name["twilio_webhooks"]["status"], by_name["twilio_webhooks"]["value"]) == ("ok", "none yet")

    with time_machine.travel(NOW - timedelta(hours=2), tick=False):
        assert twilio_inbound(client) == 200
    with time_machine.travel(NOW, tick=False):
        assert [stripe_webhook(client, n) for n in range(4)] == [200] * 4
        # Two signed with an old secret (a rotated key not updated here), one unsigned.
        assert [stripe_webhook(client, n, secret="whsec_old") for n in range(4, 6)] == [400, 400]
        assert client.post("/webhooks/stripe/", data=b"{}", content_type="application/json").status_code == 400

    by_name = checks(api, read_key, NOW + timedelta(minutes=5))[2]
    stripe_check, twilio_check = by_name["stripe_webhooks"], by_name["twilio_webhooks"]
    # 3 refused of 7 (43 %): over both the floor of 3 and the 5 % share.
    assert (stripe_check["status"], stripe_check["value"]) == ("degraded", "last 5 min ago")
    assert stripe_check["detail"].startswith("4 accepted, 3 refused, 0 failed in 24 h")
    assert "signing secret" in stripe_check["detail"]
    assert (twilio_check["status"], twilio_check["value"]) == ("ok", "last 2.1 h ago")
    assert twilio_check["detail"] == "1 accepted, 0 refused, 0 failed in 24 h"

    # A day later the refusals have left the window; Stripe is fresh enough (under 3 days).
    by_name = checks(api, read_key, NOW + timedelta(hours=25))[2]
    assert by_name["stripe_webhooks"]["status"] == "ok"
    assert by_name["stripe_webhooks"]["detail"] == "0 accepted, 0 refused, 0 failed in 24 h"
    assert checks(api, read_key, NOW + timedelta(days=4))[2]["stripe_webhooks"]["status"] == "degraded"


def test_every_twilio_callback_refused_takes_the_check_down(api, read_key, client, settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    with time_machine.travel(NOW, tick=False):
        # Signed with another token: what Twilio sends when TWILIO_AUTH_TOKEN is wrong here.
        assert {twilio_inbound(client, token="f" * 32) for _ in range(10)} == {403}
    by_name = checks(api, read_key, NOW + timedelta(minutes=1))[2]
    assert by_name["twilio_webhooks"]["status"] == "down"
    assert by_name["twilio_webhooks"]["detail"].startswith("0 accepted, 10 refused, 0 failed in 24 h")
