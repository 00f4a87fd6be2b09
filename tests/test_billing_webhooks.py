"""Stripe webhooks end to end (CONTRACTS.md → Webhooks): forged or stale deliveries are refused
with nothing written, a replayed event has one effect (also ten deliveries racing on
PostgreSQL), every arrival order of the same events gives the same mirror, invoices,
tenant matching, cards fetched through the real SDK from a fake HTTP client, plan mapping,
and the payload builders checked against Stripe's own fixture shapes.

Payloads come from billing/payloads.py or tests/fixtures/stripe/*.json and are signed with
the SDK's `stripe.WebhookSignature.generate_signature_header`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from billing import payloads
from billing.models import Customer, Invoice, StripeEvent, Subscription, SubscriptionChange
from billing.webhooks import stripe_event_process
from tenants.models import Tenant, TimelineEntry

from .stripe_fake import PRICES, SECRET_KEY, WEBHOOK_SECRET, FakeStripeHttp, fixture, use_fake_stripe

pytestmark = pytest.mark.django_db

SECRET = WEBHOOK_SECRET
PRICE_STARTER, PRICE_PRO, PRICE_BUSINESS = PRICES["starter"], PRICES["professional"], PRICES["business"]
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SEC = timedelta(seconds=1)


@pytest.fixture(autouse=True)
def stripe_settings(settings):
    use_fake_stripe(settings)
    yield
    FakeStripeHttp.reset()


# --- helpers -----------------------------------------------------------------------------------


def sub(status: str, *, sub_id: str = "sub_1", customer: str = "cus_1", tenant: str | None = "acme", **kw: Any):
    kw.setdefault("price_id", PRICE_PRO)
    kw.setdefault("unit_amount", 4900)
    kw.setdefault("period_start", T0)
    return payloads.subscription_object(
        subscription_id=sub_id, customer_id=customer, status=status, tenant=tenant, **kw
    )


def invoice(status: str, *, invoice_id: str = "in_1", sub_id: str = "sub_1", customer: str = "cus_1", **kw: Any):
    kw.setdefault("amount_due", 4900)
    kw.setdefault("created", T0 + 30 * DAY)
    kw.setdefault("tenant", "acme")
    return payloads.invoice_object(
        invoice_id=invoice_id, customer_id=customer, subscription_id=sub_id, status=status, **kw
    )


def event(event_type: str, obj: dict[str, Any], created: datetime, event_id: str = "") -> bytes:
    return payloads.event_payload(event_type=event_type, obj=obj, created=created, event_id=event_id)


def sign(body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=timestamp)


def post(client, body: bytes, signature: str | None):
    extra = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    return client.post(reverse("stripe-webhook"), data=body, content_type="application/json", **extra)


def deliver(client, body: bytes) -> dict[str, Any]:
    """Posts `body` as Stripe would (signed now) and expects a 200."""
    response = post(client, body, sign(body))
    assert response.status_code == 200, response.content
    return response.json()


def send(client, event_type: str, obj: dict[str, Any], created: datetime, event_id: str = "") -> dict[str, Any]:
    return deliver(client, event(event_type, obj, created, event_id))


def stored(body: bytes) -> StripeEvent:
    return StripeEvent.objects.get(event_id=json.loads(body)["id"])


def row_counts() -> dict[str, int]:
    return {
        "events": StripeEvent.objects.count(),
        "subscriptions": Subscription.all_tenants.count(),
        "changes": SubscriptionChange.objects.count(),
        "customers": Customer.objects.count(),
        "invoices": Invoice.all_tenants.count(),
        "timeline": TimelineEntry.all_tenants.count(),
    }


def timeline(tenant: Tenant, kind: str) -> list[str]:
    return list(
        TimelineEntry.all_tenants.filter(tenant=tenant, kind=kind).order_by("id").values_list("summary", flat=True)
    )


def mirror(sub_id: str = "sub_1") -> dict[str, Any]:
    s = Subscription.all_tenants.select_related("latest_invoice", "tenant").get(stripe_id=sub_id)
    return {
        "tenant": s.tenant.external_id if s.tenant else None,
        "status": s.status,
        "plan": s.plan,
        "price_id": s.price_id,
        "quantity": s.quantity,
        "mrr_cents": s.mrr_cents,
        "list_mrr_cents": s.list_mrr_cents,
        "current_period_end": s.current_period_end,
        "cancel_at_period_end": s.cancel_at_period_end,
        "past_due_since": s.past_due_since,
        "latest_invoice": s.latest_invoice.stripe_id if s.latest_invoice else None,
        "state_at": s.state_at,
    }


def billing_rows_delete() -> None:
    StripeEvent.objects.all().delete()  # and their SubscriptionChange rows
    Subscription.all_tenants.all().delete()
    Invoice.all_tenants.all().delete()
    Customer.objects.all().delete()
    TimelineEntry.all_tenants.filter(kind__startswith="billing.").delete()


# --- 1. forgery ----------------------------------------------------------------------------------


def _valid_body() -> bytes:
    return event("customer.subscription.created", sub("active"), T0)


FORGERIES = {
    "missing header": (lambda body: (body, None), "The Stripe-Signature header is missing."),
    "wrong secret": (
        lambda body: (body, sign(body, secret="whsec_someone_else")),
        "The signature does not verify: No signatures found matching the expected signature for payload",
    ),
    "one byte changed after signing": (
        lambda body: (body.replace(b'"quantity": 1', b'"quantity": 9'), sign(body)),
        "The signature does not verify: No signatures found matching the expected signature for payload",
    ),
    "stale timestamp": (
        lambda body: (body, sign(body, timestamp=int(time.time()) - 301 - 60)),
        "The signature does not verify: Timestamp outside the tolerance zone",
    ),
    "future timestamp": (
        lambda body: (body, sign(body, timestamp=int(time.time()) + 301 + 60)),
        "The signature's timestamp is in the future.",
    ),
    "garbage header": (
        lambda body: (body, "definitely-not-a-signature"),
        "The signature does not verify: Unable to extract timestamp and signatures from header",
    ),
    "no v1 scheme": (
        lambda body: (body, sign(body).replace("v1=", "v0=")),
        "The signature does not verify: No signatures found with expected scheme v1",
    ),
}


@pytest.mark.parametrize("case", list(FORGERIES))
def test_forged_or_stale_deliveries_are_refused_with_nothing_written(client, tenant_a, case):
    tamper, problem = FORGERIES[case]
    original = _valid_body()
    body, signature = tamper(original)
    assert body.count(b'"quantity": 9') == (1 if case == "one byte changed after signing" else 0)
    before = row_counts()

    response = post(client, body, signature)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"error"}
    assert response.json()["error"].startswith(problem), response.json()
    assert row_counts() == before
    assert StripeEvent.objects.count() == Subscription.all_tenants.count() == Customer.objects.count() == 0

    # The very same event, genuinely signed, is accepted: the refusal was about the signature.
    ok = post(client, original, sign(original))
    assert ok.status_code == 200
    assert ok.json() == {"received": json.loads(original)["id"], "duplicate": False}
    assert Subscription.all_tenants.get().tenant == tenant_a


def test_no_webhook_secret_configured_refuses_everything(client, tenant_a, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = _valid_body()
    before = row_counts()
    response = post(client, body, sign(body))
    assert response.status_code == 400
    assert response.json() == {"error": "STRIPE_WEBHOOK_SECRET is not set: no event can be verified."}
    assert row_counts() == before


def test_a_valid_delivery_is_stored_and_applied(client, tenant_a):
    body = _valid_body()
    before = row_counts()
    response = post(client, body, sign(body))
    assert response.status_code == 200
    assert response.json() == {"received": json.loads(body)["id"], "duplicate": False}
    row = stored(body)
    assert (row.type, row.outcome, row.tenant, row.created) == (
        "customer.subscription.created",
        "applied",
        tenant_a,
        T0,
    )
    after = row_counts()
    assert {k: after[k] - before[k] for k in after} == {
        "events": 1,
        "subscriptions": 1,
        "changes": 1,
        "customers": 1,
        "invoices": 0,
        "timeline": 2,  # linked to the customer, and the subscription's status
    }
    assert timeline(tenant_a, "billing.subscription") == ["Professional active, $49.00/month"]


def test_during_secret_rotation_one_matching_signature_among_several_is_enough(client, tenant_a):
    body = _valid_body()
    timestamp = int(time.time())
    good = sign(body, timestamp=timestamp)
    stale = sign(body, secret="whsec_old_one", timestamp=timestamp).split(",")[1]
    response = post(client, body, f"{good.split(',')[0]},{stale},{good.split(',')[1]}")
    assert response.status_code == 200


NOT_EVENTS = {
    "no object": ({"data": {}}, "The event carries no data.object."),
    "object not a dict": ({"data": {"object": "cus_1"}}, "The event carries no data.object."),
    "no id": ({"id": ""}, "The body is not a Stripe event (no id or type)."),
    "no type": ({"type": None}, "The body is not a Stripe event (no id or type)."),
    "thin event": ({"object": "v2.core.event"}, "The body is not a Stripe event: You passed a thin event"),
    "not json": (None, "The body is not a Stripe event: "),
}


@pytest.mark.parametrize("case", list(NOT_EVENTS))
def test_a_signed_body_that_is_not_an_event_is_refused(client, tenant_a, case):
    changes, problem = NOT_EVENTS[case]
    if changes is None:
        body = b"{not json"
    else:
        event_body = {"id": "evt_x", "object": "event", "type": "customer.updated"}
        event_body["data"] = {"object": _customer_obj()}
        event_body.update(changes)
        body = json.dumps(event_body).encode()
    before = row_counts()
    response = post(client, body, sign(body))
    assert response.status_code == 400
    assert response.json()["error"].startswith(problem), response.json()
    assert row_counts() == before


def _customer_obj() -> dict[str, Any]:
    return payloads.customer_object(customer_id="cus_1", email="owner@acme.test", name="Acme", tenant="acme")


def test_a_signed_body_with_null_data_is_refused_not_a_server_error(client):
    body = json.dumps({"id": "evt_x", "object": "event", "type": "customer.updated", "data": None}).encode()
    response = post(client, body, sign(body))
    assert response.status_code == 400
    assert row_counts()["events"] == 0


# --- 2. replay -----------------------------------------------------------------------------------


def test_the_same_event_twice_has_one_effect(client, tenant_a):
    body = event("customer.subscription.created", sub("active"), T0)
    first = deliver(client, body)
    # Stripe re-signs every retry: a fresh timestamp, the same event id.
    time.sleep(1)
    second = deliver(client, body)

    assert first == {"received": json.loads(body)["id"], "duplicate": False}
    assert second == {"received": json.loads(body)["id"], "duplicate": True}
    assert StripeEvent.objects.count() == 1
    assert SubscriptionChange.objects.count() == 1
    assert timeline(tenant_a, "billing.subscription") == ["Professional active, $49.00/month"]
    assert timeline(tenant_a, "billing.customer") == ["Linked to Stripe customer cus_1"]


def test_a_replayed_invoice_failure_is_one_timeline_entry(client, tenant_a):
    send(client, "customer.subscription.created", sub("active"), T0)
    body = event("invoice.payment_failed", invoice("open", attempt_count=1), T0 + 30 * DAY)
    deliver(client, body)
    deliver(client, body)
    assert len(timeline(tenant_a, "billing.payment_failed")) == 1
    assert Invoice.all_tenants.get().attempt_count == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_event_delivered_ten_times_at_once_has_one_effect_on_postgresql(tenant_a):
    body = event("customer.subscription.created", sub("active", price_id=PRICE_BUSINESS, unit_amount=9900), T0)
    signature = sign(body)
    barrier = threading.Barrier(10)
    results: list[Any] = []
    errors: list[BaseException] = []

    def deliver_in_thread() -> None:
        try:
            barrier.wait()
            results.append(stripe_event_process(payload=body, signature=signature, now=timezone.now()))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_in_thread) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert len(results) == 10
    assert sorted(r.duplicate for r in results) == [False] + [True] * 9
    assert StripeEvent.objects.count() == 1
    assert SubscriptionChange.objects.count() == 1
    assert Subscription.all_tenants.count() == 1
    assert Customer.objects.count() == 1
    assert timeline(tenant_a, "billing.subscription") == ["Business active, $99.00/month"]
    assert timeline(tenant_a, "billing.plan") == ["Plan changed from Professional to Business"]
    assert timeline(tenant_a, "billing.customer") == ["Linked to Stripe customer cus_1"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_different_events_about_one_new_subscription_racing_on_postgresql_lose_nothing(tenant_a):
    bodies = [
        event("customer.subscription.created", sub("active"), T0),
        event("invoice.payment_failed", invoice("open", attempt_count=1), T0 + 30 * DAY),
        event("customer.subscription.updated", sub("past_due", period_start=T0 + 30 * DAY), T0 + 30 * DAY + 1 * SEC),
        event("customer.subscription.updated", sub("unpaid", period_start=T0 + 30 * DAY), T0 + 40 * DAY),
    ]
    signed = [(body, sign(body)) for body in bodies]
    barrier = threading.Barrier(len(signed))
    errors: list[BaseException] = []

    def deliver_in_thread(body: bytes, signature: str) -> None:
        try:
            barrier.wait()
            stripe_event_process(payload=body, signature=signature, now=timezone.now())
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_in_thread, args=pair) for pair in signed]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert StripeEvent.objects.count() == 4
    assert SubscriptionChange.objects.count() == 4  # three subscription objects and the failed payment
    assert Subscription.all_tenants.count() == Customer.objects.count() == Invoice.all_tenants.count() == 1
    state = mirror()
    assert (state["status"], state["past_due_since"], state["latest_invoice"], state["tenant"]) == (
        "unpaid",
        T0 + 30 * DAY + SEC,
        "in_1",
        "acme",
    )


# --- 3. order ------------------------------------------------------------------------------------


def _lifecycle_events() -> list[bytes]:
    """trialing (Starter) → active (Professional) → past_due → active ×2, cancelling at period end."""
    return [
        event(
            "customer.subscription.created",
            sub("trialing", price_id=PRICE_STARTER, unit_amount=1900, trial_end=T0 + 14 * DAY),
            T0,
            "evt_life_1",
        ),
        event(
            "customer.subscription.updated",
            sub("active", period_start=T0 + 14 * DAY),
            T0 + 14 * DAY,
            "evt_life_2",
        ),
        event(
            "customer.subscription.updated",
            sub("past_due", period_start=T0 + 44 * DAY, latest_invoice="in_2"),
            T0 + 44 * DAY,
            "evt_life_3",
        ),
        event(
            "customer.subscription.updated",
            sub("active", period_start=T0 + 44 * DAY, quantity=2, cancel_at_period_end=True, latest_invoice="in_2"),
            T0 + 46 * DAY,
            "evt_life_4",
        ),
    ]


def test_every_arrival_order_of_a_lifecycle_gives_the_same_mirror(client, tenant_a):
    expected = {
        "tenant": "acme",
        "status": "active",
        "plan": "professional",
        "price_id": PRICE_PRO,
        "quantity": 2,
        "mrr_cents": 9800,
        "list_mrr_cents": 9800,
        "current_period_end": T0 + 74 * DAY,
        "cancel_at_period_end": True,
        "past_due_since": None,
        "latest_invoice": None,
        "state_at": T0 + 46 * DAY,
    }
    bodies = _lifecycle_events()
    seen = 0
    for order in itertools.permutations(range(4)):
        billing_rows_delete()
        Tenant.objects.filter(pk=tenant_a.pk).update(plan=Tenant.Plan.STARTER)
        for i in order:
            deliver(client, bodies[i])
        assert mirror() == expected, f"arrival order {[i + 1 for i in order]}"
        assert Tenant.objects.get(pk=tenant_a.pk).plan == "professional", order
        assert SubscriptionChange.objects.count() == 4
        seen += 1
    assert seen == 24


def test_every_arrival_order_of_a_failed_then_paid_renewal_gives_the_same_mirror(client, tenant_a):
    renewal = T0 + 30 * DAY
    bodies = [
        event("customer.subscription.created", sub("active"), T0, "evt_ren_1"),
        event(
            "invoice.payment_failed",
            invoice("open", created=renewal, attempt_count=1, next_payment_attempt=renewal + 3 * DAY),
            renewal + timedelta(hours=1),
            "evt_ren_2",
        ),
        event(
            "customer.subscription.updated",
            sub("past_due", period_start=renewal, latest_invoice="in_1"),
            renewal + timedelta(hours=1) + SEC,
            "evt_ren_3",
        ),
        event("invoice.paid", invoice("paid", created=renewal, attempt_count=2), renewal + 3 * DAY, "evt_ren_4"),
    ]
    expected = {
        "tenant": "acme",
        "status": "active",
        "plan": "professional",
        "price_id": PRICE_PRO,
        "quantity": 1,
        "mrr_cents": 4900,
        "list_mrr_cents": 4900,
        "current_period_end": renewal + 30 * DAY,
        "cancel_at_period_end": False,
        "past_due_since": None,
        "latest_invoice": "in_1",
        "state_at": renewal + 3 * DAY,
    }
    for order in itertools.permutations(range(4)):
        billing_rows_delete()
        for i in order:
            deliver(client, bodies[i])
        assert mirror() == expected, f"arrival order {[i + 1 for i in order]}"
        inv = Invoice.all_tenants.get()
        assert (inv.status, inv.attempt_count, inv.amount_paid_cents, inv.next_payment_attempt, inv.tenant) == (
            "paid",
            2,
            4900,
            None,
            tenant_a,
        ), order


def test_an_older_active_arriving_after_a_newer_past_due_stays_past_due(client, tenant_a):
    send(client, "customer.subscription.created", sub("active"), T0)
    send(client, "customer.subscription.updated", sub("past_due", period_start=T0 + 30 * DAY), T0 + 30 * DAY)
    # the late one: an 'active' update Stripe created before the past_due one
    late = send(client, "customer.subscription.updated", sub("active", quantity=3), T0 + 10 * DAY)
    assert late["duplicate"] is False

    state = mirror()
    assert state["status"] == "past_due"
    assert state["past_due_since"] == T0 + 30 * DAY
    assert state["quantity"] == 1
    assert state["current_period_end"] == T0 + 60 * DAY
    assert state["state_at"] == T0 + 30 * DAY
    assert state["mrr_cents"] == 4900  # past due still counts until it is canceled
    assert SubscriptionChange.objects.count() == 3
    assert timeline(tenant_a, "billing.subscription") == [
        "Professional active, $49.00/month",
        "Professional past due",
    ]


@pytest.mark.parametrize("late_first", [False, True], ids=["in order", "unpaid first"])
def test_unpaid_after_past_due_keeps_the_episode_start(client, tenant_a, late_first):
    past_due = event("customer.subscription.updated", sub("past_due"), T0 + 30 * DAY)
    unpaid = event("customer.subscription.updated", sub("unpaid"), T0 + 51 * DAY)
    send(client, "customer.subscription.created", sub("active"), T0)
    for body in [unpaid, past_due] if late_first else [past_due, unpaid]:
        deliver(client, body)
    state = mirror()
    assert (state["status"], state["past_due_since"], state["mrr_cents"]) == ("unpaid", T0 + 30 * DAY, 4900)


def test_a_new_past_due_episode_after_recovery_starts_afresh(client, tenant_a):
    send(client, "customer.subscription.created", sub("active"), T0)
    send(client, "customer.subscription.updated", sub("past_due"), T0 + 30 * DAY)
    send(client, "customer.subscription.updated", sub("active"), T0 + 32 * DAY)
    send(client, "customer.subscription.updated", sub("past_due"), T0 + 60 * DAY)
    assert mirror()["past_due_since"] == T0 + 60 * DAY


# --- 4. invoices ---------------------------------------------------------------------------------


def test_payment_failed_records_the_invoice_and_says_which_attempt(client, tenant_a):
    send(client, "customer.subscription.created", sub("active"), T0)
    renewal = T0 + 30 * DAY
    failed = invoice("open", created=renewal, attempt_count=1, next_payment_attempt=renewal + 3 * DAY)
    result = send(client, "invoice.payment_failed", failed, renewal + timedelta(minutes=5))
    assert result["duplicate"] is False

    inv = Invoice.all_tenants.get(stripe_id="in_1")
    assert inv.status == "open"
    assert inv.attempt_count == 1
    assert inv.next_payment_attempt == renewal + 3 * DAY
    assert (inv.amount_due_cents, inv.amount_paid_cents, inv.amount_remaining_cents) == (4900, 0, 4900)
    assert inv.needs_action is False
    assert inv.tenant == tenant_a
    assert inv.hosted_invoice_url == "https://invoice.stripe.com/i/in_1"
    assert inv.subscription == Subscription.all_tenants.get(stripe_id="sub_1")
    assert Subscription.all_tenants.get().latest_invoice == inv
    assert timeline(tenant_a, "billing.payment_failed") == [
        "Payment of $49.00 failed (attempt 1); next retry 4 Dec 12:00 UTC"
    ]


def test_payment_action_required_marks_the_invoice(client, tenant_a):
    send(client, "customer.subscription.created", sub("active"), T0)
    send(client, "invoice.payment_action_required", invoice("open", attempt_count=1), T0 + 30 * DAY)
    inv = Invoice.all_tenants.get()
    assert inv.needs_action is True
    assert timeline(tenant_a, "billing.payment_action_required") == [
        "Payment of $49.00 needs the customer to confirm it (e.g. 3-D Secure)"
    ]


def test_an_older_failure_after_a_newer_one_does_not_move_the_attempts_back(client, tenant_a):
    send(client, "customer.subscription.created", sub("active"), T0)
    renewal = T0 + 30 * DAY
    second = invoice("open", created=renewal, attempt_count=2, next_payment_attempt=renewal + 8 * DAY)
    first = invoice("open", created=renewal, attempt_count=1, next_payment_attempt=renewal + 3 * DAY)
    send(client, "invoice.payment_failed", second, renewal + 3 * DAY)
    send(client, "invoice.payment_failed", first, renewal)  # late

    inv = Invoice.all_tenants.get()
    assert (inv.attempt_count, inv.next_payment_attempt, inv.state_at) == (2, renewal + 8 * DAY, renewal + 3 * DAY)
    assert StripeEvent.objects.filter(type="invoice.payment_failed", outcome="applied").count() == 2
    assert mirror()["latest_invoice"] == "in_1"


@pytest.mark.parametrize("scenario", ["attempt 1 after attempt 2", "failure after payment"])
def test_a_late_invoice_event_does_not_rewrite_history_on_the_timeline(client, tenant_a, scenario):
    send(client, "customer.subscription.created", sub("active"), T0)
    renewal = T0 + 30 * DAY
    if scenario == "attempt 1 after attempt 2":
        send(client, "invoice.payment_failed", invoice("open", attempt_count=2), renewal + 3 * DAY)
        send(client, "invoice.payment_failed", invoice("open", attempt_count=1), renewal)  # late
        # the late one adds nothing, or speaks of its own attempt (not a second "attempt 2")
        assert timeline(tenant_a, "billing.payment_failed") in (
            ["Payment of $49.00 failed (attempt 2)"],
            ["Payment of $49.00 failed (attempt 2)", "Payment of $49.00 failed (attempt 1)"],
        )
    else:
        send(client, "invoice.payment_failed", invoice("open", attempt_count=1), renewal)
        send(client, "invoice.paid", invoice("paid", attempt_count=2), renewal + 3 * DAY)
        # attempt 2's failure notice, created before the payment that settled it, arrives last
        send(client, "invoice.payment_failed", invoice("open", attempt_count=2), renewal + 2 * DAY)
        assert Invoice.all_tenants.get().status == "paid"
        kinds = list(
            TimelineEntry.all_tenants.filter(tenant=tenant_a, kind__in=["billing.payment_failed", "billing.paid"])
            .order_by("id")
            .values_list("kind", flat=True)
        )
        assert kinds[-1] == "billing.paid", kinds  # the timeline does not say it failed after it was paid


def test_invoice_paid_alone_brings_a_past_due_subscription_back(client, tenant_a):
    send(client, "customer.subscription.created", sub("active"), T0)
    send(client, "customer.subscription.updated", sub("past_due", period_start=T0 + 30 * DAY), T0 + 30 * DAY)
    assert mirror()["status"] == "past_due"
    # the subscription.updated that Stripe sent along with it is lost
    send(client, "invoice.paid", invoice("paid", attempt_count=2), T0 + 33 * DAY)

    state = mirror()
    assert (state["status"], state["past_due_since"], state["mrr_cents"], state["latest_invoice"]) == (
        "active",
        None,
        4900,
        "in_1",
    )
    inv = Invoice.all_tenants.get()
    assert (inv.status, inv.amount_paid_cents, inv.paid_at) == ("paid", 4900, T0 + 33 * DAY)
    assert timeline(tenant_a, "billing.paid") == ["Invoice of $49.00 paid"]
    assert timeline(tenant_a, "billing.subscription")[-1] == "Professional active, $49.00/month"


def test_paying_an_older_invoice_while_the_latest_is_unpaid_keeps_it_past_due(client, tenant_a):
    send(client, "customer.subscription.created", sub("active"), T0)
    first_renewal, second_renewal = T0 + 30 * DAY, T0 + 60 * DAY
    send(client, "invoice.payment_failed", invoice("open", created=first_renewal, attempt_count=1), first_renewal)
    send(
        client,
        "customer.subscription.updated",
        sub("past_due", period_start=first_renewal, latest_invoice="in_1"),
        first_renewal + SEC,
    )
    second = invoice("open", invoice_id="in_2", created=second_renewal, attempt_count=1)
    send(client, "invoice.payment_failed", second, second_renewal)
    send(
        client,
        "customer.subscription.updated",
        sub("past_due", period_start=second_renewal, latest_invoice="in_2"),
        second_renewal + SEC,
    )
    # the owner pays the older invoice from its hosted page; in_2 stays open, so Stripe keeps it past_due
    send(client, "invoice.paid", invoice("paid", created=first_renewal, attempt_count=1), second_renewal + DAY)

    state = mirror()
    assert state["latest_invoice"] == "in_2"
    assert (state["status"], state["past_due_since"]) == ("past_due", first_renewal + SEC)


def test_a_trial_ending_soon_lands_on_the_timeline(client, tenant_a):
    obj = sub("trialing", trial_end=T0 + 14 * DAY)
    send(client, "customer.subscription.trial_will_end", obj, T0 + 11 * DAY)
    assert timeline(tenant_a, "billing.trial_will_end") == ["Trial ends on 15 Nov 2026"]
    assert timeline(tenant_a, "billing.subscription") == ["Trial of Professional until 15 Nov 2026"]
    assert mirror()["mrr_cents"] == 0


# --- 5. matching ---------------------------------------------------------------------------------


def test_a_subscription_naming_its_tenant_belongs_to_it(client, tenant_a, tenant_b):
    send(client, "customer.subscription.created", sub("active", tenant="globex", customer="cus_g"), T0)
    s = Subscription.all_tenants.get()
    assert s.tenant == tenant_b
    assert Customer.objects.get(stripe_id="cus_g").tenant == tenant_b
    assert StripeEvent.objects.get().outcome == "applied"


def test_a_subscription_without_metadata_matches_through_the_checkout_customer(client, tenant_a):
    session = payloads.checkout_session_object(
        session_id="cs_1", customer_id="cus_9", subscription_id="sub_9", tenant="acme"
    )
    send(client, "checkout.session.completed", session, T0)
    assert Customer.objects.get(stripe_id="cus_9").tenant == tenant_a
    assert timeline(tenant_a, "billing.checkout") == ["Checkout completed: subscription sub_9"]

    send(client, "customer.subscription.created", sub("trialing", sub_id="sub_9", customer="cus_9", tenant=None), T0)
    s = Subscription.all_tenants.get(stripe_id="sub_9")
    assert s.tenant == tenant_a
    assert s.customer.stripe_id == "cus_9"
    assert StripeEvent.objects.get(type="customer.subscription.created").outcome == "applied"


def test_an_unmatched_subscription_is_stored_and_a_later_customer_update_links_it(client, tenant_a):
    body = event("customer.subscription.created", sub("active", customer="cus_x", tenant=None), T0)
    assert deliver(client, body) == {"received": json.loads(body)["id"], "duplicate": False}
    s = Subscription.all_tenants.get()
    assert (s.tenant, s.status, s.plan) == (None, "active", "professional")
    row = stored(body)
    assert (row.outcome, row.tenant, row.detail) == (
        "unmatched",
        None,
        "no metadata.tenant and the customer belongs to no tenant",
    )

    customer = payloads.customer_object(customer_id="cus_x", email="owner@acme.test", name="Acme", tenant="acme")
    send(client, "customer.updated", customer, T0 + DAY)

    s.refresh_from_db()
    assert s.tenant == tenant_a
    assert Customer.objects.get(stripe_id="cus_x").tenant == tenant_a
    assert StripeEvent.objects.get(type="customer.updated").outcome == "applied"
    assert timeline(tenant_a, "billing.customer") == ["Linked to Stripe customer cus_x"]


def test_a_subscription_linked_later_moves_the_tenants_plan(client, tenant_a):
    send(
        client,
        "customer.subscription.created",
        sub("active", customer="cus_x", tenant=None, price_id=PRICE_BUSINESS, unit_amount=9900),
        T0,
    )
    customer = payloads.customer_object(customer_id="cus_x", email="owner@acme.test", name="Acme", tenant="acme")
    send(client, "customer.updated", customer, T0 + DAY)
    assert Subscription.all_tenants.get().tenant == tenant_a
    tenant_a.refresh_from_db()
    assert tenant_a.plan == "business"
    assert timeline(tenant_a, "billing.plan") == ["Plan changed from Professional to Business"]


def test_metadata_naming_an_unknown_tenant_is_unmatched_and_says_so(client, tenant_a):
    body = event("customer.subscription.created", sub("active", customer="cus_y", tenant="no-such-tenant"), T0)
    deliver(client, body)
    row = stored(body)
    assert (row.outcome, row.tenant) == ("unmatched", None)
    assert row.detail == "metadata.tenant “no-such-tenant” names no tenant"
    assert Subscription.all_tenants.get().tenant is None
    assert TimelineEntry.all_tenants.filter(kind__startswith="billing.").count() == 0


def test_an_event_type_we_do_not_act_on_is_stored_as_ignored(client, tenant_a):
    body = json.dumps(fixture("event")).encode()
    before = row_counts()
    assert deliver(client, body) == {"received": "evt_1Pgc76B7WZ01zgkWwyRHS12y", "duplicate": False}
    row = StripeEvent.objects.get()
    assert (row.type, row.outcome, row.tenant, row.detail) == ("plan.created", "ignored", None, "")
    assert row.payload["data"]["object"]["id"] == "price_1PgafmB7WZ01zgkW6dKueIc5"
    after = row_counts()
    assert {k: after[k] - before[k] for k in after} == {
        "events": 1,
        "subscriptions": 0,
        "changes": 0,
        "customers": 0,
        "invoices": 0,
        "timeline": 0,
    }


# --- 6. cards ------------------------------------------------------------------------------------


def _customer(payment_method: Any, *, email: str = "owner@acme.test", customer: str = "cus_1") -> dict[str, Any]:
    return payloads.customer_object(
        customer_id=customer, email=email, name="Acme Plumbing", tenant="acme", payment_method=payment_method
    )


def test_a_default_card_named_by_id_is_fetched_from_stripe(client, tenant_a):
    send(client, "customer.updated", _customer("pm_card_1"), T0)

    [call] = FakeStripeHttp.requests
    assert (call.method, call.path, call.params) == ("get", "/v1/payment_methods/pm_card_1", {})
    assert call.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert call.stripe_version == "2026-10-28.endive"
    c = Customer.objects.get(stripe_id="cus_1")
    # the fixture's card: visa 4242, 08/2030
    assert (c.default_payment_method, c.card_brand, c.card_last4, c.card_exp_month, c.card_exp_year) == (
        "pm_card_1",
        "visa",
        "4242",
        8,
        2030,
    )
    assert (c.email, c.tenant) == ("owner@acme.test", tenant_a)
    assert c.card_label == "Visa ····4242 · exp 08/2030"

    # the same card named again: nothing to fetch
    send(client, "customer.updated", _customer("pm_card_1", email="new@acme.test"), T0 + DAY)
    assert len(FakeStripeHttp.requests) == 1
    c.refresh_from_db()
    assert (c.email, c.card_last4) == ("new@acme.test", "4242")


def test_an_older_customer_update_after_a_newer_one_overwrites_nothing(client, tenant_a):
    FakeStripeHttp.card(
        "pm_new", brand="mastercard", display_brand="mastercard", last4="4444", exp_month=1, exp_year=2031
    )
    send(client, "customer.updated", _customer("pm_new", email="new@acme.test"), T0 + DAY)
    send(client, "customer.updated", _customer("pm_old", email="old@acme.test"), T0)  # late

    c = Customer.objects.get()
    assert (c.default_payment_method, c.card_brand, c.card_last4, c.card_exp_month, c.card_exp_year, c.email) == (
        "pm_new",
        "mastercard",
        "4444",
        1,
        2031,
        "new@acme.test",
    )
    assert c.state_at == T0 + DAY
    assert StripeEvent.objects.filter(type="customer.updated", outcome="applied").count() == 2


def test_when_stripe_fails_the_customer_event_is_still_applied_without_the_card(client, tenant_a):
    FakeStripeHttp.fail("get", "/v1/payment_methods/", status=500, retry=None)  # the SDK retries 5xx twice
    body = event("customer.updated", _customer("pm_card_1"), T0)
    deliver(client, body)

    calls = FakeStripeHttp.calls("get", "/v1/payment_methods/pm_card_1")
    assert len(calls) == 3
    assert stored(body).outcome == "applied"
    c = Customer.objects.get()
    assert (c.email, c.tenant, c.card_last4, c.card_brand, c.card_exp_year) == (
        "owner@acme.test",
        tenant_a,
        "",
        "",
        None,
    )

    # Stripe is back: the next update of the same customer fetches and stores the card.
    FakeStripeHttp.failures.clear()
    send(client, "customer.updated", _customer("pm_card_1"), T0 + DAY)
    c.refresh_from_db()
    assert (c.default_payment_method, c.card_last4) == ("pm_card_1", "4242")


def test_without_a_secret_key_the_customer_event_is_applied_without_the_card(client, tenant_a, settings):
    settings.STRIPE_SECRET_KEY = ""
    body = event("customer.updated", _customer("pm_card_1"), T0)
    deliver(client, body)
    assert FakeStripeHttp.requests == []
    assert stored(body).outcome == "applied"
    c = Customer.objects.get()
    assert (c.email, c.tenant, c.card_last4) == ("owner@acme.test", tenant_a, "")


def test_an_expanded_default_card_needs_no_fetch_and_a_card_update_moves_the_expiry(client, tenant_a):
    card = payloads.payment_method_object(payment_method_id="pm_x", customer_id="cus_1", exp_month=12, exp_year=2026)
    send(client, "customer.updated", _customer(card), T0)
    assert FakeStripeHttp.requests == []
    assert Customer.objects.get().card_label == "Visa ····4242 · exp 12/2026"

    renewed = payloads.payment_method_object(payment_method_id="pm_x", customer_id="cus_1", exp_month=12, exp_year=2029)
    send(client, "payment_method.automatically_updated", renewed, T0 + DAY)
    assert Customer.objects.get().card_label == "Visa ····4242 · exp 12/2029"
    # a card that is nobody's default is stored and left alone
    other = payloads.payment_method_object(
        payment_method_id="pm_other", customer_id="cus_1", exp_month=1, exp_year=2030
    )
    body = event("payment_method.updated", other, T0 + 2 * DAY)
    deliver(client, body)
    assert (stored(body).outcome, stored(body).detail) == ("unmatched", "not the default card of a known customer")
    assert Customer.objects.get().card_label == "Visa ····4242 · exp 12/2029"


# --- 7. payload shapes ---------------------------------------------------------------------------


def _keys_missing(built: Any, real: Any, path: str = "") -> list[str]:
    """Every key path in `built` that `real` (Stripe's fixture) lacks; metadata is free-form."""
    missing: list[str] = []
    if isinstance(built, dict):
        if not isinstance(real, dict):
            return [path or "<root>"]
        for key, value in built.items():
            where = f"{path}.{key}" if path else key
            if key not in real:
                missing.append(where)
            elif key != "metadata" and value is not None and real[key] is not None:
                missing += _keys_missing(value, real[key], where)
    elif isinstance(built, list) and built and isinstance(built[0], dict):
        if not (isinstance(real, list) and real):
            return [path]
        missing += _keys_missing(built[0], real[0], f"{path}[0]")
    return missing


SHAPES = {
    "subscription": lambda: sub("trialing", trial_end=T0 + 14 * DAY, cancel_at_period_end=True, latest_invoice="in_1"),
    "invoice": lambda: invoice("open", attempt_count=1, next_payment_attempt=T0 + 33 * DAY),
    "customer": lambda: _customer("pm_1"),
    "payment_method": lambda: payloads.payment_method_object(
        payment_method_id="pm_1", customer_id="cus_1", exp_month=1, exp_year=2030
    ),
    "checkout.session": lambda: payloads.checkout_session_object(
        session_id="cs_1", customer_id="cus_1", subscription_id="sub_1", tenant="acme"
    ),
    "price": lambda: payloads.price_object(price_id=PRICE_PRO, unit_amount=4900),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_the_payload_builders_emit_only_keys_of_the_current_api(name):
    built, real = SHAPES[name](), fixture(name)
    assert built["object"] == real["object"]
    assert _keys_missing(built, real) == []


def test_the_shape_check_reaches_the_nested_objects():
    built = sub("active")
    # Since 2025-03-31 the period is on the items, an invoice's subscription under parent.
    assert "current_period_end" not in built and "current_period_end" not in fixture("subscription")
    assert built["items"]["data"][0]["current_period_end"] == int((T0 + 30 * DAY).timestamp())
    assert invoice("open")["parent"]["subscription_details"]["subscription"] == "sub_1"
    # and the checker does look inside: an old-API key under items, price or parent is caught
    built["items"]["data"][0]["price"]["recurring"]["aggregate_usage"] = None
    built["items"]["data"][0]["plan_legacy"] = {}
    assert _keys_missing(built, fixture("subscription")) == [
        "items.data[0].price.recurring.aggregate_usage",
        "items.data[0].plan_legacy",
    ]
    old_invoice = invoice("open")
    old_invoice["parent"]["subscription_details"]["subscription_proration_date"] = 1
    assert _keys_missing(old_invoice, fixture("invoice")) == ["parent.subscription_details.subscription_proration_date"]


def test_a_stripe_fixture_shaped_subscription_is_applied(client, tenant_a):
    """The fixture object itself (every field of the current API), with our ids and metadata."""
    obj = fixture("subscription")
    item = obj["items"]["data"][0]
    item["price"]["id"] = PRICE_BUSINESS
    item["price"]["unit_amount"] = 9900
    item["current_period_start"] = int(T0.timestamp())
    item["current_period_end"] = int((T0 + 30 * DAY).timestamp())
    obj.update(metadata={"tenant": "acme"}, status="active", cancel_at_period_end=False, canceled_at=None)
    body = json.dumps({**fixture("event"), "type": "customer.subscription.updated", "created": int(T0.timestamp())})
    event_obj = json.loads(body)
    event_obj["data"] = {"object": obj}
    deliver(client, json.dumps(event_obj).encode())
    state = mirror("sub_1Pgc6rB7WZ01zgkWNy0Cn5nw")
    assert (state["tenant"], state["status"], state["plan"], state["mrr_cents"], state["current_period_end"]) == (
        "acme",
        "active",
        "business",
        9900,
        T0 + 30 * DAY,
    )


# --- 8. plan mapping -----------------------------------------------------------------------------


def test_a_business_price_maps_to_the_business_plan_and_moves_the_tenant(client, tenant_a):
    assert tenant_a.plan == "professional"
    send(client, "customer.subscription.created", sub("active", price_id=PRICE_BUSINESS, unit_amount=9900), T0)
    s = Subscription.all_tenants.get()
    assert (s.plan, s.price_id, s.mrr_cents) == ("business", PRICE_BUSINESS, 9900)
    tenant_a.refresh_from_db()
    assert tenant_a.plan == "business"
    assert timeline(tenant_a, "billing.plan") == ["Plan changed from Professional to Business"]
    assert timeline(tenant_a, "billing.subscription") == ["Business active, $99.00/month"]


def test_an_unknown_price_maps_to_no_plan_and_leaves_the_tenant_alone(client, tenant_a):
    send(client, "customer.subscription.created", sub("active", price_id="price_mystery", unit_amount=4900), T0)
    s = Subscription.all_tenants.get()
    assert (s.plan, s.price_id, s.mrr_cents) == ("", "price_mystery", 4900)
    tenant_a.refresh_from_db()
    assert tenant_a.plan == "professional"
    assert timeline(tenant_a, "billing.plan") == []
    assert timeline(tenant_a, "billing.subscription") == ["price_mystery active, $49.00/month"]


def test_a_canceled_subscription_does_not_move_the_tenants_plan(client, tenant_a):
    send(
        client,
        "customer.subscription.deleted",
        sub("canceled", price_id=PRICE_BUSINESS, unit_amount=9900, canceled_at=T0 + DAY),
        T0 + DAY,
    )
    s = Subscription.all_tenants.get()
    assert (s.status, s.plan, s.mrr_cents, s.canceled_at) == ("canceled", "business", 0, T0 + DAY)
    tenant_a.refresh_from_db()
    assert tenant_a.plan == "professional"
