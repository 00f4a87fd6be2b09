"""A fake Stripe API behind the real SDK: a `stripe.HTTPClient` the app's `stripe_client()`
builds through `settings.STRIPE_HTTP_CLIENT`, so every call goes through the SDK's own
encoding, headers, retries and error classes, and only the wire is fake.

It answers the calls the app makes (customers.create, checkout.sessions.create,
billing_portal.sessions.create, subscriptions.create, payment_methods.retrieve) with bodies
built from Stripe's fixture objects in `tests/fixtures/stripe/` (Stripe's own object
shapes), replays a successful response for a repeated Idempotency-Key (and refuses one
reused with other parameters, as Stripe does), and records every request in
`FakeStripeHttp.requests`. Tests call `FakeStripeHttp.reset()` first.

    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_HTTP_CLIENT = "tests.stripe_fake.FakeStripeHttp"
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import stripe
from requests.structures import CaseInsensitiveDict

DOTTED_PATH = "tests.stripe_fake.FakeStripeHttp"
SECRET_KEY = "sk_test_x"


def fixtures_dir() -> Path:
    return Path(__file__).resolve().parent / "fixtures" / "stripe"


@cache
def _fixture_text(name: str) -> str:
    return (fixtures_dir() / f"{name}.json").read_text()


def fixture(name: str) -> dict[str, Any]:
    """A fresh copy of one of Stripe's fixture objects (`customer`, `subscription`, ...)."""
    return json.loads(_fixture_text(name))


@dataclass
class Recorded:
    method: str  # lower case, as the SDK passes it: "get", "post"
    path: str
    params: dict[str, str]  # the form (POST) or query (GET) parameters, keys as sent: "metadata[tenant]"
    headers: dict[str, str] = field(repr=False)
    status: int = 0  # what the fake answered
    response: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")

    @property
    def stripe_version(self) -> str | None:
        return self.headers.get("Stripe-Version")


@dataclass(frozen=True)
class Failure:
    status: int
    body: dict[str, Any]
    retry: bool | None  # Stripe-Should-Retry; None sends no such header (the SDK then retries 5xx)


class FakeStripeHttp(stripe.HTTPClient):
    name = "fake"

    requests: ClassVar[list[Recorded]] = []
    # (method, path prefix) -> the error to answer with, until reset
    failures: ClassVar[dict[tuple[str, str], Failure]] = {}
    # payment method id -> card overrides for GET /v1/payment_methods/<id>
    cards: ClassVar[dict[str, dict[str, Any]]] = {}
    _replays: ClassVar[dict[str, tuple[tuple, tuple[str, int]]]] = {}
    _counter: ClassVar[itertools.count] = itertools.count(1)
    _lock: ClassVar[threading.Lock] = threading.Lock()

    # --- test controls ------------------------------------------------------------------------

    @classmethod
    def reset(cls) -> None:
        cls.requests.clear()
        cls.failures.clear()
        cls.cards.clear()
        cls._replays.clear()
        cls._counter = itertools.count(1)

    @classmethod
    def fail(
        cls,
        method: str,
        path: str,
        *,
        status: int,
        type: str = "api_error",  # Stripe's own field name
        message: str = "Something went wrong on Stripe's end.",
        code: str | None = None,
        retry: bool | None = False,
    ) -> None:
        error: dict[str, Any] = {"type": type, "message": message}
        if code:
            error["code"] = code
        cls.failures[(method.lower(), path)] = Failure(status, {"error": error}, retry)

    @classmethod
    def card(cls, payment_method_id: str, **card: Any) -> None:
        """What GET /v1/payment_methods/<id> answers for that id (over the fixture's visa 4242 08/2030)."""
        cls.cards[payment_method_id] = card

    @classmethod
    def calls(cls, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [
            r
            for r in cls.requests
            if (method is None or r.method == method.lower()) and (path is None or r.path.startswith(path))
        ]

    # --- the HTTPClient interface ---------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Any]:
        method = method.lower()
        parts = urlsplit(url)
        raw = post_data if method == "post" else parts.query
        if isinstance(raw, bytes):
            raw = raw.decode()
        params = dict(parse_qsl(raw or "", keep_blank_values=True))
        recorded = Recorded(method, parts.path, params, dict(headers or {}))
        with self._lock:
            self.requests.append(recorded)
            body, status, response_headers = self._answer(recorded)
            recorded.status, recorded.response = status, json.loads(body)
            return body, status, response_headers

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the app never streams from Stripe")

    def close(self) -> None:
        pass

    # --- answers ----------------------------------------------------------------------------------

    def _answer(self, req: Recorded) -> tuple[str, int, Any]:
        for (method, prefix), failure in self.failures.items():
            if method == req.method and req.path.startswith(prefix):
                extra = {} if failure.retry is None else {"Stripe-Should-Retry": str(failure.retry).lower()}
                return self._reply(failure.body, failure.status, **extra)
        key = req.idempotency_key if req.method == "post" else None
        signature = (req.method, req.path, tuple(sorted(req.params.items())))
        if key and key in self._replays:
            seen, (body, status) = self._replays[key]
            if seen != signature:
                error = {
                    "type": "idempotency_error",
                    "message": f"Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you meant to "
                    "execute a different request.",
                }
                return self._reply({"error": error}, 400)
            return self._reply(json.loads(body), status, **{"Idempotent-Replayed": "true"})
        body, status = self._route(req)
        if key and status < 400:
            self._replays[key] = (signature, (json.dumps(body), status))
        return self._reply(body, status)

    def _reply(self, body: dict[str, Any], status: int, **headers: str) -> tuple[str, int, Any]:
        number = next(self._counter)
        return (
            json.dumps(body),
            status,
            CaseInsensitiveDict({"Request-Id": f"req_fake{number}", "Content-Type": "application/json", **headers}),
        )

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._counter)}"

    def _route(self, req: Recorded) -> tuple[dict[str, Any], int]:
        p = req.params
        if req.method == "post" and req.path == "/v1/customers":
            body = fixture("customer")
            body.update(
                id=self._next_id("cus"),
                email=p.get("email"),
                name=p.get("name"),
                discount=None,
                metadata=_nested(p, "metadata"),
            )
            return body, 200
        if req.method == "post" and req.path == "/v1/checkout/sessions":
            body = fixture("checkout.session")
            session_id = self._next_id("cs_test")
            body.update(
                id=session_id,
                url=f"https://checkout.stripe.com/c/pay/{session_id}",
                mode=p.get("mode"),
                customer=p.get("customer"),
                client_reference_id=p.get("client_reference_id"),
                metadata=_nested(p, "metadata"),
                success_url=p.get("success_url"),
                cancel_url=p.get("cancel_url"),
                payment_intent=None,
            )
            return body, 200
        if req.method == "post" and req.path == "/v1/billing_portal/sessions":
            if not p.get("customer"):
                return _missing("customer"), 400
            body = fixture("billing_portal.session")
            session_id = self._next_id("bps")
            body.update(
                id=session_id,
                customer=p["customer"],
                return_url=p.get("return_url"),
                url=f"https://billing.stripe.com/p/session/test_{session_id}",
                flow={"type": p["flow_data[type]"]} if p.get("flow_data[type]") else None,
                livemode=False,
            )
            return body, 200
        if req.method == "post" and req.path == "/v1/subscriptions":
            if not p.get("customer"):
                return _missing("customer"), 400
            return _subscription(p, self._next_id("sub"), self._next_id("si")), 200
        if req.method == "get" and req.path.startswith("/v1/payment_methods/"):
            payment_method_id = req.path.removeprefix("/v1/payment_methods/")
            body = fixture("payment_method")
            body["id"] = payment_method_id
            body["card"].update(copy.deepcopy(self.cards.get(payment_method_id, {})))
            return body, 200
        return {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"Unrecognized request URL ({req.method.upper()}: {req.path}).",
            }
        }, 404


MISSING_PM = "trial_settings[end_behavior][missing_payment_method]"


def _subscription(p: dict[str, str], subscription_id: str, item_id: str) -> dict[str, Any]:
    """POST /v1/subscriptions: trialing until `trial_end` when one is given (as Stripe does)."""
    body = fixture("subscription")
    trial_end = int(p["trial_end"]) if p.get("trial_end") else None
    created = int(time.time())
    period_end = trial_end or created + 30 * 86400
    item = body["items"]["data"][0]
    item.update(id=item_id, subscription=subscription_id, current_period_start=created, current_period_end=period_end)
    item["price"]["id"] = p.get("items[0][price]")
    item["quantity"] = int(p.get("items[0][quantity]") or 1)
    body["items"]["data"] = [item]
    body.update(
        id=subscription_id,
        customer=p["customer"],
        status="trialing" if trial_end else "active",
        created=created,
        start_date=created,
        trial_start=created if trial_end else None,
        trial_end=trial_end,
        cancel_at=None,
        cancel_at_period_end=False,
        canceled_at=None,
        ended_at=None,
        metadata=_nested(p, "metadata"),
        trial_settings={"end_behavior": {"missing_payment_method": p.get(MISSING_PM, "create_invoice")}},
        livemode=False,
    )
    return body


def _nested(params: dict[str, str], name: str) -> dict[str, str]:
    """`metadata[tenant]=acme` -> {"tenant": "acme"} for one level of a form-encoded hash."""
    prefix = f"{name}["
    return {k[len(prefix) : -1]: v for k, v in params.items() if k.startswith(prefix) and k.count("[") == 1}


def _missing(param: str) -> dict[str, Any]:
    return {
        "error": {
            "type": "invalid_request_error",
            "code": "parameter_missing",
            "param": param,
            "message": f"Missing required param: {param}.",
        }
    }


WEBHOOK_SECRET = "whsec_test_cockpit"
PRICES = {"starter": "price_starter_test", "professional": "price_professional_test", "business": "price_business_test"}


def use_fake_stripe(settings: Any) -> None:
    """Settings for a test that talks to Stripe: the fake wire, a webhook secret, the prices."""
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_HTTP_CLIENT = DOTTED_PATH
    settings.STRIPE_PRICE_STARTER = PRICES["starter"]
    settings.STRIPE_PRICE_PROFESSIONAL = PRICES["professional"]
    settings.STRIPE_PRICE_BUSINESS = PRICES["business"]
    FakeStripeHttp.reset()
