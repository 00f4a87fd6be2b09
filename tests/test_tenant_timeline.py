"""The tenant's timeline in the cockpit (issue 15): what the cockpit did merged with the
business events the backend sent (tickets, errors, deploys), newest first, paged without
repeating or skipping a row, filterable by kind; an unknown kind is a note, not an error."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.services import timeline_record

from .alert_helpers import NOW, ingest, tenant_at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def url(tenant, query: str = "") -> str:
    return f"/admin/customer-success/tenants/{tenant.external_id}/timeline/{query}"


def test_business_events_sit_between_the_cockpits_entries_in_time_order(client, csm):
    tenant = tenant_at("acme", signed_up_at=NOW - timedelta(days=5))
    ingest(
        tenant,
        "ticket.created",
        NOW - timedelta(hours=5),
        subject="Calls drop after 10 s",
        priority="high",
        ticket_id="T-1",
    )
    ingest(tenant, "deploy.completed", NOW - timedelta(hours=3), version="2.4.1")
    ingest(tenant, "call.handled", NOW - timedelta(hours=2))  # product usage: not on the timeline
    timeline_record(tenant=tenant, at=NOW - timedelta(hours=4), kind="alert.opened", summary="Usage drop opened")
    client.force_login(csm)
    html = client.get(url(tenant)).content.decode()
    order = [html.index(text) for text in ("Version: 2.4.1", "Usage drop opened", "Subject: Calls drop after 10 s")]
    assert order == sorted(order)
    assert "Deploy completed" in html and "Ticket created" in html
    assert "Call handled" not in html
    # The tenant page shows the same merged head, and links to the filters.
    page = client.get(f"/admin/customer-success/tenants/{tenant.external_id}/").content.decode()
    assert "Subject: Calls drop after 10 s" in page and "?kind=events" in page


def test_filters_keep_one_kind(client, csm):
    tenant = tenant_at("acme", signed_up_at=NOW - timedelta(days=5))
    ingest(tenant, "error.raised", NOW - timedelta(hours=1), message="Twilio 500")
    timeline_record(tenant=tenant, at=NOW, kind="alert.opened", summary="Usage drop opened")
    timeline_record(tenant=tenant, at=NOW, kind="billing.paid", summary="Invoice paid: $49.00")
    client.force_login(csm)
    alerts = client.get(url(tenant, "?kind=alerts")).content.decode()
    assert "Usage drop opened" in alerts and "Invoice paid" not in alerts and "Twilio 500" not in alerts
    events = client.get(url(tenant, "?kind=events")).content.decode()
    assert "Message: Twilio 500" in events and "Usage drop opened" not in events
    unknown = client.get(url(tenant, "?kind=<script>"))
    assert unknown.status_code == 200
    text = unknown.content.decode()
    assert "is not a kind of entry: showing everything." in text and "<script>" not in text
    assert "Invoice paid" in text and "Twilio 500" in text


def test_pages_neither_repeat_nor_skip_rows_written_at_the_same_moment(client, csm):
    tenant = tenant_at("acme", signed_up_at=NOW - timedelta(days=5))
    for i in range(60):
        timeline_record(tenant=tenant, at=NOW, kind="task.created", summary=f"Entry {i:02d}")
    ingest(tenant, "ticket.created", NOW, count=3, subject="Same moment", ticket_id="T-2")
    client.force_login(csm)
    seen: list[str] = []
    for page in (1, 2):
        html = client.get(url(tenant, f"?kind=&page={page}")).content.decode()
        seen += [line for line in html.split("</li>") if "Entry " in line or "Same moment" in line]
    # tenant_at's onboarding start wrote its own entries too: count only ours.
    entries = sorted(s[s.index("Entry ") : s.index("Entry ") + 8] for s in seen if "Entry " in s)
    assert entries == [f"Entry {i:02d}" for i in range(60)]
    assert sum("Same moment" in s for s in seen) == 3


def test_the_page_runs_the_same_queries_for_ten_rows_or_a_hundred(client, csm):
    tenant = tenant_at("acme", signed_up_at=NOW - timedelta(days=5))
    client.force_login(csm)
    counts = []
    for n in (10, 100):
        for i in range(n):
            timeline_record(tenant=tenant, at=NOW - timedelta(minutes=i), kind="task.created", summary=f"e{i}")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(tenant)).status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_every_kind_the_product_writes_is_in_one_filter(client, csm):
    """Each timeline kind (core.events.TimelineKind) falls under a filter, so no entry can be
    reached only through "Everything"."""
    from core.events import TimelineKind
    from cs_cockpit.timeline import KIND_GROUPS

    prefixes = [p for _, (_, group) in KIND_GROUPS.items() for p in group]
    orphans = [kind for kind in TimelineKind.values if not any(kind.startswith(p) for p in prefixes)]
    assert orphans == []
