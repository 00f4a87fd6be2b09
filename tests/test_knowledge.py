"""The knowledge base (issue 15; seed 000 Day 7, seed 003's common issues): starting articles
from the seeds, search and filters, Markdown shown sanitised, every save a version that can be
read back, refusals that name the field, and customers reading only what is meant for them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from knowledge.models import Article, ArticleVersion
from tenants.models import AuditLog

pytestmark = pytest.mark.django_db
KB = "/admin/knowledge/"


def form(**overrides) -> dict:
    data = {
        "title": "Refund policy",
        "slug": "refund-policy",
        "kind": "policy",
        "audience": "customers",
        "status": "published",
        "tags": "Billing, refunds",
        "body": "Refunds within **14 days** of a charge.\n\n<script>alert(1)</script>",
        "change_note": "",
    }
    return data | overrides


def test_the_seeds_common_issues_are_there_from_the_start(client, csm):
    client.force_login(csm)
    html = client.get(KB).content.decode()
    for title in ("Can&#x27;t connect a data source", "Dashboards load slowly", "Price concern", "White-glove setup"):
        assert title in html
    assert Article.objects.count() == ArticleVersion.objects.count() == 7
    assert "1–7 of 7" in html


def test_search_and_filters(client, csm):
    client.force_login(csm)
    found = client.get(KB + "?q=slow+dashboard").content.decode()
    assert "Dashboards load slowly" in found and "Price concern" not in found
    objections = client.get(KB + "?kind=objection").content.decode()
    assert "Price concern" in objections and "Dashboards load slowly" not in objections
    billing = client.get(KB + "?tag=billing").content.decode()
    assert "Past-due subscriptions" in billing and "Updating your payment method" in billing
    assert "Price concern" not in billing
    nothing = client.get(KB + "?q=zeppelin").content.decode()
    assert "No article matches “zeppelin”." in nothing and "Write it" in nothing
    odd = client.get(KB + "?kind=<b>&q=\x00price")
    assert odd.status_code == 200
    text = odd.content.decode()
    assert "is not a kind of article: showing every kind." in text and "Price concern" in text


def test_writing_and_editing_keeps_every_version(client, csm, cs_lead):
    client.force_login(csm)
    response = client.post(KB + "new/", form())
    assert response.status_code == 302 and response["Location"] == KB + "refund-policy/"
    page = client.get(KB + "refund-policy/").content.decode()
    assert "Refunds within <strong>14 days</strong> of a charge." in page
    assert "<script>" not in page and "alert(1)" not in page
    assert "/help/refund-policy/" in page
    article = Article.objects.get(slug="refund-policy")
    assert (article.version, article.tags) == (1, ["billing", "refunds"])

    client.force_login(cs_lead)
    edited = form(body="Refunds within **30 days**.", change_note="Policy changed in November")
    assert client.post(KB + "refund-policy/edit/", edited).status_code == 302
    article.refresh_from_db()
    assert article.version == 2 and "30 days" in article.body
    v1 = client.get(KB + "refund-policy/versions/1/").content.decode()
    assert "14 days" in v1 and "The article is at version 2 now." in v1
    page = client.get(KB + "refund-policy/").content.decode()
    assert "Policy changed in November" in page
    # Saving it unchanged is not a version.
    client.post(KB + "refund-policy/edit/", edited)
    assert Article.objects.get(slug="refund-policy").version == 2
    actions = sorted(AuditLog.objects.filter(action__startswith="article.").values_list("action", "actor"))
    assert actions == [("article.create", csm.pk), ("article.edit", cs_lead.pk)]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"slug": "Refund Policy"}, "is not a slug: lower-case letters, digits and single hyphens"),
        ({"slug": "price-concern"}, "Another article already uses “price-concern”: choose another slug."),
        ({"slug": "new"}, "“new” is a page of the knowledge base: choose another slug."),
        ({"body": "   "}, "Write the article: its body is empty."),
        ({"title": ""}, "Give the article a title."),
        ({"tags": "ok, no_underscores!"}, "is not a tag: letters, digits and hyphens, up to 40."),
        ({"kind": "gossip"}, "Select a valid choice. gossip is not one of the available choices."),
    ],
)
def test_a_bad_article_is_refused_field_by_field(client, csm, overrides, error):
    client.force_login(csm)
    response = client.post(KB + "new/", form(**overrides))
    assert response.status_code == 422
    assert error in response.content.decode()
    assert not Article.objects.filter(title="Refund policy").exists()
    assert not AuditLog.objects.filter(action="article.create").exists()


def test_customers_read_only_published_articles_meant_for_them(client, owner_a, billing_ops):
    client.force_login(owner_a)
    html = client.get("/help/slow-dashboard/").content.decode()
    assert "Narrow the date range" in html and "Dashboards load slowly" in html
    internal = client.get("/help/price-concern/")
    assert internal.status_code == 404 and "Jamie" not in internal.content.decode()
    Article.objects.filter(slug="slow-dashboard").update(status="draft")
    assert client.get("/help/slow-dashboard/").status_code == 404
    client.logout()
    assert client.get("/help/update-payment-method/").status_code == 302
    # Billing ops read the knowledge base; writing is the CS team's.
    client.force_login(billing_ops)
    assert client.get(KB + "past-due-policy/").status_code == 200
    assert client.post(KB + "new/", form()).status_code == 403
    assert "New article" not in client.get(KB).content.decode()


def test_the_list_runs_the_same_queries_for_seven_articles_or_forty(client, csm):
    client.force_login(csm)
    counts = []
    for extra in (0, 33):
        for i in range(extra):
            client.post(KB + "new/", form(slug=f"extra-{i}", title=f"Extra {i}"))
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(KB).status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_messages_link_articles_by_slug_and_only_customer_articles_reach_customers(settings, tenant_a):
    from django.utils import timezone

    from playbooks.facts import facts_for_tenants
    from playbooks.templating import TemplateError, check, render

    settings.SITE_URL = "https://cs.example.com"
    check("Read {{ article.update-payment-method }}", field="body")
    with pytest.raises(TemplateError, match="no knowledge-base article “refunds”: write it first"):
        check("See {{ article.refunds }}", field="body")
    facts = facts_for_tenants([tenant_a], now=timezone.now())[tenant_a.id]
    text = render("Read {{ article.update-payment-method }}", facts)
    assert text == "Read https://cs.example.com/help/update-payment-method/"
    # An internal article in a message to the owner: no message rather than a link they cannot open.
    with pytest.raises(TemplateError, match=r"article\.price-concern .* is not a published article for customers"):
        render("{{ article.price-concern }}", facts)
    # In a note for the team (a task), it links the staff page.
    assert render("{{ article.price-concern }}", facts, strict=False).endswith("/admin/knowledge/price-concern/")
    Article.objects.filter(slug="update-payment-method").update(status="draft")
    with pytest.raises(TemplateError):
        render("{{ article.update-payment-method }}", facts)


def test_the_owner_follows_an_in_app_messages_article_link(client, owner_a, tenant_a):
    from django.utils import timezone

    from playbooks.models import InAppMessage

    InAppMessage.objects.create(
        tenant=tenant_a,
        title="Your card needs updating",
        body="Here is how: http://testserver/help/update-payment-method/ <b>thanks</b>",
        created_at=timezone.now(),
    )
    client.force_login(owner_a)
    html = client.get("/account/").content.decode()
    assert '<a href="http://testserver/help/update-payment-method/"' in html
    assert "&lt;b&gt;thanks&lt;/b&gt;" in html
    assert (
        "Choose <strong>Update payment method</strong>" in client.get("/help/update-payment-method/").content.decode()
    )


def test_an_articles_page_runs_the_same_queries_after_many_versions(client, csm):
    client.force_login(csm)
    counts = []
    for edits in (1, 12):
        for i in range(edits):
            client.post(
                KB + "price-concern/edit/", form(slug="price-concern", title="Price concern", body=f"v {edits}-{i}")
            )
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(KB + "price-concern/").status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]
    assert Article.objects.get(slug="price-concern").version == 14


def test_the_editor_a_version_and_the_help_page_run_a_fixed_number_of_queries(client, csm, owner_a):
    client.force_login(csm)
    pages = [KB + "update-payment-method/edit/", KB + "update-payment-method/versions/1/"]
    counts: dict[str, list[int]] = {url: [] for url in [*pages, "/help/update-payment-method/"]}
    for edits in (0, 10):
        for i in range(edits):
            client.post(
                KB + "update-payment-method/edit/",
                form(slug="update-payment-method", title="Updating your payment method", body=f"Step {i}"),
            )
        client.force_login(csm)
        for url in pages:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            counts[url].append(len(ctx))
        client.force_login(owner_a)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/help/update-payment-method/").status_code == 200
        counts["/help/update-payment-method/"].append(len(ctx))
        client.force_login(csm)
    assert all(a == b for a, b in counts.values()), counts
