"""The outside channels through their real SDKs and clients, with fakes only at the wire:
Twilio's SDK with a fake `twilio.http.HttpClient`, Twilio's callbacks signed with the SDK's own
RequestValidator, outgoing webhooks with a fake `requests` session and resolver, and email
through a Django mail backend (configured with MAILERS) that answers like a mail server."""

from __future__ import annotations

import json
import logging
import smtplib
from datetime import timedelta
from http.client import RemoteDisconnected
from typing import Any, ClassVar
from urllib.parse import urlencode

import pytest
import requests
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from messaging import outbox, sms
from messaging.errors import PermanentError, RetryableError
from messaging.models import Message, Suppression
from messaging.outbox import messages_sweep_stuck
from messaging.retry import MAX_ATTEMPTS
from messaging.sms import TwilioBackend
from messaging.webhook import webhook_post
from playbooks.channels import webhook_payload
from playbooks.definitions import DefinitionError, parse
from playbooks.facts import facts_for_tenants
from playbooks.library import playbook_version_save
from playbooks.models import Channel, Delivery, Playbook, Run, Trigger
from playbooks.scheduling import run_start
from playbooks.templating import render
from tenants.models import Tenant, TimelineEntry

from .touchpoint_helpers import SIGNUP, new_york_tenant, tick_at


@pytest.fixture(autouse=True)
def quiet_hours_after_signup(settings):
    """These tests are about the providers, and sign up at 21:00 New York time: without quiet
    hours (SMS_QUIET_HOURS=off) the welcome text goes at once. The quiet hours themselves are
    tested in test_touchpoint_windows.py."""
    settings.SMS_QUIET_HOURS = None


pytestmark = pytest.mark.django_db

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
SERVICE_SID = "MG" + "b2" * 16
PHONE = "+14155550123"  # new_york_tenant()'s owner, who agreed to SMS at signup
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
STATUS_URL = "http://testserver/webhooks/twilio/status/"  # what Django's test client makes Django see
INBOUND_URL = "http://testserver/webhooks/twilio/inbound/"


# --- Twilio's SDK with a fake HTTP client -------------------------------------------------------


class FakeTwilioHttp(HttpClient):
    """Twilio's HTTP seam: records every request the SDK makes and answers from a queue (a
    Response, or an exception to raise); an empty queue answers like Twilio accepting it."""

    def __init__(self) -> None:
        super().__init__(logger=logging.getLogger("tests.fake_twilio"), is_async=False)
        self.requests: list[dict[str, Any]] = []
        self.replies: list[TwilioResponse | BaseException] = []
        self.sids: list[str] = []

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        self.requests.append({"method": method, "uri": uri, "data": dict(data or {}), "auth": auth})
        reply = self.replies.pop(0) if self.replies else None
        if isinstance(reply, BaseException):
            raise reply
        if reply is not None:
            return reply
        sid = f"SM{len(self.requests):032x}"
        self.sids.append(sid)
        return TwilioResponse(201, json.dumps(message_json(sid, data or {})))


def message_json(sid: str, data: dict[str, object]) -> dict[str, object]:
    return {
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "messaging_service_sid": data.get("MessagingServiceSid"),
        "to": data.get("To"),
        "from": None,
        "body": data.get("Body"),
        "status": "accepted",
        "direction": "outbound-api",
        "num_segments": "0",
        "api_version": "2010-04-01",
        "date_created": "Mon, 02 Nov 2026 02:00:00 +0000",
        "date_updated": "Mon, 02 Nov 2026 02:00:00 +0000",
        "date_sent": None,
        "error_code": None,
        "error_message": None,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }


def twilio_error(status: int, code: int, message: str) -> TwilioResponse:
    """Twilio's error body, as the Messages API sends it."""
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return TwilioResponse(status, json.dumps({**body, "status": status}))


def twilio_problem(status: int, code: int, title: str, detail: str) -> TwilioResponse:
    """The same error in RFC 9457 form (newer Twilio APIs; the SDK raises TwilioServiceException)."""
    body = {"type": f"https://www.twilio.com/docs/errors/{code}", "title": title, "status": status, "code": code}
    return TwilioResponse(status, json.dumps({**body, "detail": detail}))


def connection_refused() -> requests.exceptions.ConnectionError:
    """What requests raises when the connection cannot be made: nothing reached Twilio."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/2010-04-01/Messages.json", reason=reason))


def connection_dropped() -> requests.exceptions.ConnectionError:
    """What requests raises when the request went out and the answer never came back."""
    cause = RemoteDisconnected("Remote end closed connection without response")
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", cause))


def read_timeout() -> requests.exceptions.ReadTimeout:
    return requests.exceptions.ReadTimeout(ReadTimeoutError(None, "/", "Read timed out. (read timeout=10)"))


class FakeTwilioBackend(TwilioBackend):
    """SMS_BACKEND names this class (a dotted path, as the setting allows): our Twilio backend,
    unchanged, handed the fake HTTP client through the SDK's own seam."""

    http_client: ClassVar[FakeTwilioHttp | None] = None

    def __init__(self) -> None:
        super().__init__(http_client=FakeTwilioBackend.http_client)


@pytest.fixture
def twilio(settings) -> FakeTwilioHttp:
    settings.SMS_BACKEND = f"{__name__}.FakeTwilioBackend"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_MESSAGING_SERVICE_SID = SERVICE_SID
    fake = FakeTwilioHttp()
    FakeTwilioBackend.http_client = fake
    yield fake
    FakeTwilioBackend.http_client = None


def welcome_sms(tenant: Tenant, enrolment_key: str = "signup") -> Delivery:
    return Delivery.objects.for_tenant(tenant).get(step__key="welcome-sms", run__enrolment_key=enrolment_key)


def timeline_kinds(tenant: Tenant) -> list[str]:
    return list(TimelineEntry.objects.for_tenant(tenant).order_by("id").values_list("kind", flat=True))


def start_onboarding_again(tenant: Tenant, at) -> Run:
    """A second run of onboarding-30 (as staff would start one once the first is over), so its
    welcome SMS comes up again. One run per tenant and playbook is active at a time."""
    playbook = Playbook.objects.get(slug="onboarding-30")
    Run.objects.for_tenant(tenant).filter(playbook=playbook, status=Run.Status.ACTIVE).update(
        status=Run.Status.CANCELLED, cancelled_reason="test: the first run is over"
    )
    run = run_start(tenant=tenant, playbook=playbook, trigger=Trigger.MANUAL, enrolment_key="again", anchor=at, now=at)
    assert run is not None
    return run


def test_the_welcome_sms_goes_out_through_twilios_messages_api(twilio, settings):
    tenant = new_york_tenant()

    tick_at(SIGNUP)

    [request] = twilio.requests
    assert request["method"] == "POST" and request["uri"] == MESSAGES_URL
    assert request["auth"] == (ACCOUNT_SID, AUTH_TOKEN)
    assert request["data"]["To"] == PHONE
    assert request["data"]["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in request["data"]  # the Messaging Service picks the sender
    assert request["data"]["Body"].startswith("CloudGreet: welcome, Dana! Finish setting up Harbor HVAC")
    assert "http://localhost:8000/onboarding/" in request["data"]["Body"]
    delivery = welcome_sms(tenant)
    callback = f"http://localhost:8000/webhooks/twilio/status/?message={delivery.message_id}"
    assert request["data"]["StatusCallback"] == callback
    assert settings.SITE_URL == "http://localhost:8000"
    assert delivery.status == Delivery.Status.SENT
    assert delivery.provider_id == twilio.sids[0]
    assert delivery.recipient == PHONE and delivery.sent_at == SIGNUP and delivery.attempts == 1
    assert "touchpoint.sms" in timeline_kinds(tenant)
    assert sms.outbox == []  # Twilio, not the locmem backend


@pytest.mark.parametrize(
    "reply",
    [
        twilio_error(400, 21211, f"The 'To' number {PHONE} is not a valid phone number."),
        twilio_problem(
            400, 21211, "Invalid 'To' Phone Number", f"The 'To' number {PHONE} is not a valid phone number."
        ),
    ],
    ids=["twilio-error", "rfc9457-problem"],
)
def test_a_number_twilio_rejects_as_invalid_fails_and_is_never_texted_again(twilio, reply):
    tenant = new_york_tenant()
    twilio.replies = [reply]

    tick_at(SIGNUP)

    delivery = welcome_sms(tenant)
    assert delivery.status == Delivery.Status.FAILED
    assert "21211" in delivery.reason
    suppression = Suppression.objects.get(channel=Channel.SMS, address=PHONE)
    assert suppression.reason == Suppression.Reason.INVALID
    failed = TimelineEntry.objects.for_tenant(tenant).get(kind="touchpoint.failed")
    assert PHONE in failed.summary and failed.data["code"] == "21211"

    later = SIGNUP + timedelta(hours=2)
    start_onboarding_again(tenant, later)
    tick_at(later)

    again = welcome_sms(tenant, enrolment_key="again")
    assert again.status == Delivery.Status.SKIPPED
    assert again.reason.startswith(f"opted out: {PHONE}")
    assert len(twilio.requests) == 1


def test_twilio_saying_too_many_requests_retries_with_backoff_then_gives_up(twilio):
    tenant = new_york_tenant()
    twilio.replies = [twilio_error(429, 20429, "Too Many Requests")] * MAX_ATTEMPTS

    tick_at(SIGNUP)

    delivery = welcome_sms(tenant)
    assert delivery.status == Delivery.Status.SCHEDULED
    assert delivery.due_at == SIGNUP + timedelta(minutes=1)
    assert delivery.attempts == 1
    assert "20429" in delivery.reason and "touchpoint.failed" not in timeline_kinds(tenant)

    waits = []
    while delivery.status == Delivery.Status.SCHEDULED:
        moment = delivery.due_at
        tick_at(moment - timedelta(seconds=1))  # not yet
        tick_at(moment)
        delivery.refresh_from_db()
        if delivery.status == Delivery.Status.SCHEDULED:
            waits.append(delivery.due_at - moment)

    assert waits == [timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1)]
    assert delivery.status == Delivery.Status.FAILED and delivery.attempts == MAX_ATTEMPTS
    assert "20429" in delivery.reason
    assert len(twilio.requests) == MAX_ATTEMPTS
    assert "touchpoint.failed" in timeline_kinds(tenant)
    assert not Suppression.objects.exists()  # Twilio being busy says nothing about the number

    tick_at(SIGNUP + timedelta(days=1))
    assert len(twilio.requests) == MAX_ATTEMPTS


def test_twilio_unreachable_before_sending_is_retried_not_failed(twilio):
    tenant = new_york_tenant()
    twilio.replies = [connection_refused()]

    tick_at(SIGNUP)

    delivery = welcome_sms(tenant)
    assert delivery.status == Delivery.Status.SCHEDULED and delivery.attempts == 1
    assert delivery.reason == "retrying after: Could not reach Twilio: ConnectionError"

    tick_at(SIGNUP + timedelta(minutes=1))

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT and delivery.attempts == 2
    assert delivery.provider_id == twilio.sids[0]
    assert len(twilio.requests) == 2


@pytest.mark.parametrize(
    "reply",
    [connection_dropped(), read_timeout(), twilio_error(500, 20500, "An internal server error has occurred")],
    ids=["connection-dropped", "read-timeout", "twilio-500"],
)
def test_an_sms_that_may_have_gone_out_is_left_for_review_never_resent(twilio, reply):
    tenant = new_york_tenant()
    twilio.replies = [reply]

    tick_at(SIGNUP)
    tick_at(SIGNUP + timedelta(minutes=5))

    delivery = welcome_sms(tenant)
    assert delivery.status == Delivery.Status.SENDING
    assert len(twilio.requests) == 1

    tick_at(SIGNUP + timedelta(minutes=11))  # the tick's sweep

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.NEEDS_REVIEW
    assert "may or may not have gone out" in delivery.reason
    tick_at(SIGNUP + timedelta(hours=3))
    assert len(twilio.requests) == 1
    assert "touchpoint.needs_review" in timeline_kinds(tenant)


def test_twilio_not_configured_fails_the_sms_with_a_reason(twilio, settings):
    tenant = new_york_tenant()
    settings.TWILIO_MESSAGING_SERVICE_SID = ""

    tick_at(SIGNUP)

    delivery = welcome_sms(tenant)
    assert delivery.status == Delivery.Status.FAILED
    assert "TWILIO_MESSAGING_SERVICE_SID" in delivery.reason
    assert twilio.requests == []


# --- Twilio's callbacks, signed with the SDK's RequestValidator -----------------------------------


def twilio_post(client, url: str, params: dict[str, str], *, token: str = AUTH_TOKEN, signature: str | None = None):
    """POSTs form-encoded, as Twilio does, signed for `url` unless a signature is given ("" for none)."""
    if signature is None:
        signature = RequestValidator(token).compute_signature(url, params)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    path = url.removeprefix("http://testserver")
    return client.post(path, data=urlencode(params), content_type="application/x-www-form-urlencoded", headers=headers)


def status_params(sid: str, status: str, error_code: str = "") -> dict[str, str]:
    params = {
        "AccountSid": ACCOUNT_SID,
        "MessagingServiceSid": SERVICE_SID,
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "To": PHONE,
        "From": "+18005550100",
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        params["ErrorCode"] = error_code
    return params


def inbound_params(body: str, phone: str = PHONE) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "MessagingServiceSid": SERVICE_SID,
        "MessageSid": "SM" + "c3" * 16,
        "From": phone,
        "To": "+18005550100",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
    }


@pytest.fixture
def sent_sms(twilio) -> Delivery:
    tenant = new_york_tenant()
    tick_at(SIGNUP)
    delivery = welcome_sms(tenant)
    assert delivery.status == Delivery.Status.SENT
    return delivery


def test_a_delivery_receipt_moves_the_sms_to_delivered(client, sent_sms):
    response = twilio_post(client, STATUS_URL, status_params(sent_sms.provider_id, "delivered"))

    assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.status == Delivery.Status.DELIVERED and sent_sms.delivered_at is not None
    assert [r["status"] for r in sent_sms.trace["receipts"]] == ["delivered"]


def test_a_late_sent_receipt_after_delivered_changes_nothing(client, sent_sms):
    twilio_post(client, STATUS_URL, status_params(sent_sms.provider_id, "delivered"))
    sent_sms.refresh_from_db()
    delivered_at = sent_sms.delivered_at

    response = twilio_post(client, STATUS_URL, status_params(sent_sms.provider_id, "sent"))

    assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.status == Delivery.Status.DELIVERED and sent_sms.delivered_at == delivered_at


def test_an_undelivered_receipt_fails_the_sms_with_twilios_error_code(client, sent_sms):
    response = twilio_post(client, STATUS_URL, status_params(sent_sms.provider_id, "undelivered", "30003"))

    assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.status == Delivery.Status.FAILED
    assert "30003" in sent_sms.reason and "undelivered" in sent_sms.reason
    failed = TimelineEntry.objects.for_tenant(sent_sms.tenant).get(kind="touchpoint.failed")
    assert "30003" in failed.summary


@pytest.mark.parametrize("forged", [True, False], ids=["another-accounts-token", "missing"])
def test_a_status_callback_without_a_valid_signature_is_refused(client, sent_sms, forged):
    params = status_params(sent_sms.provider_id, "undelivered", "30003")
    signature = RequestValidator("not-the-token").compute_signature(STATUS_URL, params) if forged else ""

    response = twilio_post(client, STATUS_URL, params, signature=signature)

    assert response.status_code == 403
    sent_sms.refresh_from_db()
    assert sent_sms.status == Delivery.Status.SENT and "receipts" not in sent_sms.trace


def test_a_status_callback_signed_for_other_parameters_or_another_url_is_refused(client, sent_sms):
    signed_for = status_params(sent_sms.provider_id, "sent")
    tampered = status_params(sent_sms.provider_id, "undelivered", "30003")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(STATUS_URL, signed_for)

    assert twilio_post(client, STATUS_URL, tampered, signature=signature).status_code == 403
    other_url = RequestValidator(AUTH_TOKEN).compute_signature("http://testserver/webhooks/twilio/inbound/", tampered)
    assert twilio_post(client, STATUS_URL, tampered, signature=other_url).status_code == 403

    sent_sms.refresh_from_db()
    assert sent_sms.status == Delivery.Status.SENT


def test_without_an_auth_token_configured_every_callback_is_refused(client, sent_sms, settings):
    settings.TWILIO_AUTH_TOKEN = ""

    status = twilio_post(client, STATUS_URL, status_params(sent_sms.provider_id, "delivered"), token="")
    inbound = twilio_post(client, INBOUND_URL, inbound_params("STOP"), token="")

    assert status.status_code == 403 and inbound.status_code == 403
    sent_sms.refresh_from_db()
    assert sent_sms.status == Delivery.Status.SENT
    assert not Suppression.objects.exists()


def test_a_receipt_without_a_message_sid_touches_no_unsent_sms(client, twilio):
    tenant = new_york_tenant()
    twilio.replies = [twilio_error(429, 20429, "Too Many Requests")]
    tick_at(SIGNUP)  # the welcome SMS waits for its retry, with no provider id yet

    response = twilio_post(client, STATUS_URL, status_params("", "delivered"))

    assert response.status_code == 204
    delivery = welcome_sms(tenant)
    assert delivery.status == Delivery.Status.SCHEDULED and "receipts" not in delivery.trace


def test_stop_opts_the_owner_out_and_later_sms_are_skipped(client, twilio):
    tenant = new_york_tenant()
    tick_at(SIGNUP)

    response = twilio_post(client, INBOUND_URL, inbound_params("STOP"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Response></Response>" in response.content
    suppression = Suppression.objects.get(channel=Channel.SMS, address=PHONE)
    assert suppression.reason == Suppression.Reason.OPTED_OUT
    entry = TimelineEntry.objects.for_tenant(tenant).get(kind="sms.opted_out")
    assert PHONE in entry.summary and "STOP" in entry.summary

    later = SIGNUP + timedelta(hours=2)
    start_onboarding_again(tenant, later)
    tick_at(later)
    assert welcome_sms(tenant, enrolment_key="again").status == Delivery.Status.SKIPPED
    assert len(twilio.requests) == 1  # only the first welcome


def test_start_opts_the_owner_back_in(client, twilio):
    tenant = new_york_tenant()
    twilio_post(client, INBOUND_URL, inbound_params("stop"))

    response = twilio_post(client, INBOUND_URL, inbound_params(" start "))

    assert response.status_code == 200
    assert not Suppression.objects.filter(channel=Channel.SMS, address=PHONE).exists()
    assert timeline_kinds(tenant)[-2:] == ["sms.opted_out", "sms.opted_in"]


def test_a_sentence_starting_with_yes_does_not_opt_back_in(client, twilio):
    tenant = new_york_tenant()
    twilio_post(client, INBOUND_URL, inbound_params("STOP"))

    response = twilio_post(client, INBOUND_URL, inbound_params("yes call me instead of texting"))

    assert response.status_code == 200
    assert Suppression.objects.filter(channel=Channel.SMS, address=PHONE).exists()
    assert "sms.opted_in" not in timeline_kinds(tenant)


def test_an_ordinary_reply_changes_nothing(client, twilio):
    tenant = new_york_tenant()

    response = twilio_post(client, INBOUND_URL, inbound_params("Hello, is this the right number?"))

    assert response.status_code == 200 and b"<Response></Response>" in response.content
    assert not Suppression.objects.exists()
    assert not [k for k in timeline_kinds(tenant) if k.startswith("sms.")]


def test_an_inbound_message_with_a_bad_signature_is_refused_and_nothing_written(client, twilio):
    tenant = new_york_tenant()
    params = inbound_params("STOP")
    forged = RequestValidator("not-the-token").compute_signature(INBOUND_URL, params)

    assert twilio_post(client, INBOUND_URL, params, signature=forged).status_code == 403
    assert twilio_post(client, INBOUND_URL, params, signature="").status_code == 403

    assert not Suppression.objects.exists()
    assert not [k for k in timeline_kinds(tenant) if k.startswith("sms.")]


# --- outgoing webhooks --------------------------------------------------------------------------

SLACK_URL = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
PUBLIC_ADDRESS = "93.184.216.34"
WEBHOOK_PLAYBOOK = """\
slug: csm-slack
name: Tell the CSM channel
trigger: manual
steps:
  - key: notify-csm
    day: 0
    channel: webhook
    webhook_url: {url}
    body: "{{{{ tenant_name }}}} started onboarding: owner {{{{ owner_email }}}}"
"""
STEP_LINE = WEBHOOK_PLAYBOOK.splitlines().index("  - key: notify-csm") + 1


class FakeSession:
    """Stands in for requests.Session: records each POST and answers with requests' own Response."""

    def __init__(self, status: int = 200, text: str = "ok", error: BaseException | None = None) -> None:
        self.status, self.text, self.error = status, text, error
        self.posts: list[tuple[str, dict[str, Any]]] = []

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        self.posts.append((url, kwargs))
        if self.error is not None:
            raise self.error
        response = requests.Response()
        response.status_code, response._content, response.url = self.status, self.text.encode(), url
        return response


class Resolver:
    def __init__(self, *addresses: str) -> None:
        self.addresses, self.asked = list(addresses), []

    def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        return self.addresses


def send_webhook(delivery: Delivery, *, session: FakeSession, resolver: Resolver) -> str:
    """What the outbox does with a webhook touchpoint's message: the payload, posted."""
    return webhook_post(
        url=delivery.step.webhook_url, payload=webhook_payload(delivery), session=session, resolver=resolver
    )


@pytest.fixture
def webhook_delivery(settings) -> Delivery:
    """A real delivery of a webhook step: a playbook loaded from YAML, started for a tenant, its
    body rendered as the dispatcher renders it."""
    settings.PLAYBOOK_WEBHOOK_HOSTS = ["hooks.slack.com"]
    now = SIGNUP + timedelta(hours=1)
    definition = parse(WEBHOOK_PLAYBOOK.format(url=SLACK_URL), source="csm-slack.yaml")
    saved = playbook_version_save(definition=definition, source="csm-slack.yaml", now=now, actor=None)
    tenant = new_york_tenant()
    run = run_start(
        tenant=tenant, playbook=saved.playbook, trigger=Trigger.MANUAL, enrolment_key="t", anchor=now, now=now
    )
    delivery = run.deliveries.select_related("step", "tenant", "run__version__playbook").get()
    facts = facts_for_tenants([tenant], now=now)[tenant.id]
    delivery.rendered_body = render(delivery.step.body, facts, strict=False)
    return delivery


@pytest.mark.parametrize(
    ("url", "extra_hosts", "problem"),
    [
        ("https://hooks.example.com/notify", [], "webhook host “hooks.example.com” is not on the allow-list"),
        ("http://hooks.slack.com/services/T0/B0/X", [], "must be an https:// URL"),
        ("https://10.0.0.5/hook", ["10.0.0.5"], "10.0.0.5 is a private or reserved address"),
        ("https://169.254.169.254/latest/meta-data", ["169.254.169.254"], "169.254.169.254 is a private"),
        ("https://[::1]/hook", ["::1"], "::1 is a private or reserved address"),
    ],
    ids=["unlisted-host", "plain-http", "private-ip", "link-local-ip", "loopback-ipv6"],
)
def test_a_playbook_with_a_webhook_to_a_forbidden_place_is_refused_with_its_line(settings, url, extra_hosts, problem):
    # An IP literal is refused even when someone put it on the allow-list.
    settings.PLAYBOOK_WEBHOOK_HOSTS = ["hooks.slack.com", *extra_hosts]

    with pytest.raises(DefinitionError) as refused:
        parse(WEBHOOK_PLAYBOOK.format(url=url), source="x.yaml")

    assert refused.value.line == STEP_LINE
    assert problem in str(refused.value)
    assert str(refused.value).startswith(f"x.yaml, line {STEP_LINE}: ")


def test_a_webhook_posts_slack_compatible_json(webhook_delivery, settings):
    session, resolver = FakeSession(), Resolver(PUBLIC_ADDRESS)

    answer = send_webhook(webhook_delivery, session=session, resolver=resolver)

    assert answer == "HTTP 200"
    assert resolver.asked == ["hooks.slack.com"]
    [(url, kwargs)] = session.posts
    assert url == SLACK_URL
    assert kwargs["headers"] == {"Content-Type": "application/json"}
    assert kwargs["allow_redirects"] is False
    assert kwargs["timeout"] == settings.PLAYBOOK_WEBHOOK_TIMEOUT_SECONDS
    payload = json.loads(kwargs["data"])
    assert payload["text"] == (
        "Harbor HVAC started onboarding: owner dana@harbor.example\n"
        "<http://localhost:8000/admin/customer-success/tenants/harbor/|Harbor HVAC in the cockpit>"
    )
    assert payload["tenant"] == {"external_id": "harbor", "name": "Harbor HVAC", "plan": "professional"}
    assert payload["playbook"] == "csm-slack" and payload["step"] == "notify-csm"
    assert payload["delivery_id"] == webhook_delivery.id


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.5"], ["127.0.0.1"], ["169.254.169.254"], ["fd00::1"], [PUBLIC_ADDRESS, "192.168.1.20"]],
    ids=["private", "loopback", "metadata", "ipv6-ula", "one-of-several"],
)
def test_a_webhook_host_resolving_to_a_private_address_is_not_called(webhook_delivery, addresses):
    session = FakeSession()

    with pytest.raises(PermanentError, match="a private address: not sent"):
        send_webhook(webhook_delivery, session=session, resolver=Resolver(*addresses))

    assert session.posts == []


def test_a_webhook_host_taken_off_the_allow_list_is_not_called(webhook_delivery, settings):
    settings.PLAYBOOK_WEBHOOK_HOSTS = ["hooks.example.com"]
    session, resolver = FakeSession(), Resolver(PUBLIC_ADDRESS)

    with pytest.raises(PermanentError, match="no longer on PLAYBOOK_WEBHOOK_HOSTS"):
        send_webhook(webhook_delivery, session=session, resolver=resolver)

    assert session.posts == [] and resolver.asked == []


@pytest.mark.parametrize("status", [503, 429])
def test_a_webhook_receiver_saying_try_later_is_retried(webhook_delivery, status):
    with pytest.raises(RetryableError, match=f"answered {status}: try later"):
        send_webhook(webhook_delivery, session=FakeSession(status=status), resolver=Resolver(PUBLIC_ADDRESS))


def test_a_webhook_receiver_refusing_the_message_fails_it(webhook_delivery):
    with pytest.raises(PermanentError, match="answered 404: channel_not_found"):
        send_webhook(
            webhook_delivery,
            session=FakeSession(status=404, text="channel_not_found"),
            resolver=Resolver(PUBLIC_ADDRESS),
        )


def test_a_webhook_receiver_that_cannot_be_reached_is_retried(webhook_delivery):
    session = FakeSession(error=connection_refused())

    with pytest.raises(RetryableError, match=r"Could not connect to hooks\.slack\.com"):
        send_webhook(webhook_delivery, session=session, resolver=Resolver(PUBLIC_ADDRESS))


@pytest.mark.parametrize("error", [connection_dropped(), read_timeout()], ids=["dropped", "read-timeout"])
def test_a_webhook_that_may_have_arrived_is_neither_retried_nor_failed(webhook_delivery, error):
    # Neither kind of ProviderError: the dispatcher leaves the delivery for a person to review.
    with pytest.raises(requests.exceptions.RequestException) as raised:
        send_webhook(webhook_delivery, session=FakeSession(error=error), resolver=Resolver(PUBLIC_ADDRESS))

    assert not isinstance(raised.value, sms.ProviderError)


# --- email through a mail backend that answers like a mail server ---------------------------------

OWNER_EMAIL = "dana@harbor.example"
SMTP_ANSWERS = {
    "refused": lambda: smtplib.SMTPRecipientsRefused(
        {OWNER_EMAIL: (550, b"5.1.1 <dana@harbor.example>: Recipient address rejected: User unknown")}
    ),
    "greylisted": lambda: smtplib.SMTPRecipientsRefused(
        {OWNER_EMAIL: (450, b"4.2.0 <dana@harbor.example>: Recipient address rejected: Greylisted")}
    ),
    "disconnected": lambda: smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
}


class AnsweringMailBackend(BaseEmailBackend):
    """A Django mail backend whose server answers OPTIONS["answer"] to every message."""

    attempts: ClassVar[list[str]] = []

    def __init__(self, *, answer: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answer = answer

    def send_messages(self, email_messages: list) -> int:
        AnsweringMailBackend.attempts.extend(m.subject for m in email_messages)
        raise SMTP_ANSWERS[self.answer]()


@pytest.fixture
def mail_server(settings):
    """mail_server("refused") points the default mailer at AnsweringMailBackend. Django 6.1 reads
    settings.MAILERS each time a message is sent (django.core.mail.mailers holds no cache), so
    overriding the setting is enough; it is restored after the test."""
    AnsweringMailBackend.attempts = []

    def configure(answer: str | None) -> list[str]:
        if answer is None:
            settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
        else:
            backend = f"{__name__}.AnsweringMailBackend"
            settings.MAILERS = {"default": {"BACKEND": backend, "OPTIONS": {"answer": answer}}}
        return AnsweringMailBackend.attempts

    return configure


def welcome_email(tenant: Tenant) -> Delivery:
    return Delivery.objects.for_tenant(tenant).get(step__key="welcome-email")


def test_an_address_the_mail_server_refuses_fails_the_email_with_the_address(mail_server):
    attempts = mail_server("refused")
    tenant = new_york_tenant()

    tick_at(SIGNUP)

    delivery = welcome_email(tenant)
    assert delivery.status == Delivery.Status.FAILED
    assert OWNER_EMAIL in delivery.reason and "550" in delivery.reason
    assert len(attempts) == 1 and attempts[0].startswith("Welcome to CloudGreet, Dana")
    assert "touchpoint.failed" in timeline_kinds(tenant)
    assert welcome_sms(tenant).status == Delivery.Status.SENT  # the other channels go on
    tick_at(SIGNUP + timedelta(hours=1))
    assert len(attempts) == 1


def test_a_greylisted_address_is_tried_again_later(mail_server):
    attempts = mail_server("greylisted")
    tenant = new_york_tenant()

    tick_at(SIGNUP)

    delivery = welcome_email(tenant)
    assert delivery.status == Delivery.Status.SCHEDULED and delivery.attempts == 1
    assert delivery.due_at == SIGNUP + timedelta(minutes=1)
    assert "450" in delivery.reason and OWNER_EMAIL in delivery.reason

    mail_server(None)  # the server takes it now
    tick_at(SIGNUP + timedelta(minutes=1))

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT and delivery.attempts == 2
    assert len(attempts) == 1
    assert [m.to for m in mail.outbox] == [[OWNER_EMAIL]]


def test_a_mail_server_hanging_up_mid_send_leaves_the_email_for_review_not_resent(mail_server):
    attempts = mail_server("disconnected")
    tenant = new_york_tenant()

    tick_at(SIGNUP)
    tick_at(SIGNUP + timedelta(minutes=5))

    delivery = welcome_email(tenant)
    assert delivery.status == Delivery.Status.SENDING
    assert messages_sweep_stuck(now=SIGNUP + timedelta(minutes=9)) == 0

    assert messages_sweep_stuck(now=SIGNUP + timedelta(minutes=11)) == 1

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.NEEDS_REVIEW
    assert "may or may not have gone out" in delivery.reason
    assert "touchpoint.needs_review" in timeline_kinds(tenant)
    mail_server(None)
    for hours in (1, 24, 24 * 3):
        tick_at(SIGNUP + timedelta(hours=hours))
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.NEEDS_REVIEW
    assert len(attempts) == 1
    assert not [m for m in mail.outbox if m.subject.startswith("Welcome to CloudGreet")]


def test_a_receipt_that_beats_the_sent_mark_is_kept_and_applied(client, twilio):
    tenant = new_york_tenant()
    tick_at(SIGNUP)
    delivery = welcome_sms(tenant)
    sid = delivery.provider_id
    # Pretend our SENT mark had not landed yet: message and delivery SENDING without Twilio's id.
    Message.objects.filter(id=delivery.message_id).update(status=Message.Status.SENDING, provider_id="")
    Delivery.all_tenants.filter(id=delivery.id).update(status=Delivery.Status.SENDING, provider_id="", trace={})
    url = f"http://testserver/webhooks/twilio/status/?message={delivery.message_id}"

    response = twilio_post(client, url, status_params(sid, "delivered"))

    assert response.status_code == 204
    message = Message.objects.get(id=delivery.message_id)
    assert message.status == Message.Status.SENDING  # ours to record, not the receipt's
    assert [r["status"] for r in message.receipts] == ["delivered"]
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENDING
    # The worker's mark lands: the waiting receipt is kept and moves message and delivery on.
    worker_copy = Message.objects.get(id=delivery.message_id)
    worker_copy.provider_id, worker_copy.receipts = sid, []
    assert outbox._mark_sent([worker_copy], SIGNUP) == 1
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED and delivery.provider_id == sid
    assert [r["status"] for r in delivery.trace["receipts"]] == ["delivered"]
    assert Message.objects.get(id=delivery.message_id).status == Message.Status.DELIVERED


def test_a_receipt_settles_a_send_that_was_left_for_review(client, twilio):
    tenant = new_york_tenant()
    tick_at(SIGNUP)
    delivery = welcome_sms(tenant)
    sid = delivery.provider_id
    Message.objects.filter(id=delivery.message_id).update(status=Message.Status.NEEDS_REVIEW, provider_id="")
    Delivery.all_tenants.filter(id=delivery.id).update(status=Delivery.Status.NEEDS_REVIEW, provider_id="")
    url = f"http://testserver/webhooks/twilio/status/?message={delivery.message_id}"

    twilio_post(client, url, status_params(sid, "delivered"))

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED and delivery.provider_id == sid
    assert delivery.reason == "settled by Twilio's receipt: delivered"
