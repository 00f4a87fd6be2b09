"""Starting articles: seed 003's "Common issues & solutions" and seed 000's offers and
policies, so a new install opens a knowledge base with the team's own answers in it. Each is
version 1 of an ordinary article: edit it, and the original stays readable as v1."""

from django.db import migrations
from django.utils import timezone

AUTHOR = "CS Cockpit (starting article)"

ARTICLES = [
    {
        "slug": "cannot-connect-data-source",
        "title": "Can't connect a data source",
        "kind": "troubleshooting",
        "audience": "internal",
        "tags": ["integrations", "onboarding"],
        "body": (
            "**When:** the owner says an integration (calendar, CRM, phone numbers) will not connect, or the "
            "onboarding milestone for it is overdue.\n\n"
            "**Do:**\n\n"
            "1. Schedule a technical call with Alex (technical lead) — same day if the tenant is in its first week.\n"
            "2. Before the call, check the tenant's timeline for `integration.*` and `error.*` events: the error "
            "message usually names the credential or permission that is missing.\n"
            "3. After the call, add a note on the tenant page with what fixed it.\n\n"
            "_From the team's onboarding playbook: common issues & solutions._"
        ),
    },
    {
        "slug": "slow-dashboard",
        "title": "Dashboards load slowly",
        "kind": "troubleshooting",
        "audience": "customers",
        "tags": ["dashboard", "performance"],
        "body": (
            "If a dashboard takes long to load, it is usually showing more data than it needs to.\n\n"
            "- **Narrow the date range** to the weeks you are looking at.\n"
            "- **Add a filter** (a team, a location, a campaign) instead of loading everything.\n"
            "- **Save the filtered view** so it opens that way next time.\n\n"
            "Still slow with a short range? Reply to the message that linked here with the dashboard's name, and "
            "we will look at it with you."
        ),
    },
    {
        "slug": "feature-not-available",
        "title": "Feature request for something we do not have",
        "kind": "objection",
        "audience": "internal",
        "tags": ["roadmap", "expectations"],
        "body": (
            "**Say:** thank them, and repeat the need in their words (what they are trying to get done, not the "
            "feature they named).\n\n"
            "**Do:** add it to the roadmap (Feature Priorities) with the tenant's name and MRR, and **set "
            "expectations**: no date unless product has given one. Offer the closest thing that works today.\n\n"
            "**Then:** add a note on the tenant page so the next person who talks to them knows it was asked."
        ),
    },
    {
        "slug": "price-concern",
        "title": "Price concern",
        "kind": "objection",
        "audience": "internal",
        "tags": ["pricing", "renewal", "escalation"],
        "body": (
            "**Do not discount on the call.** Ask what they compare the price to, and what result they expected by "
            "now.\n\n"
            "**Escalate to Jamie (success lead) for negotiation**, with: plan and MRR, health score and its "
            "reasons, time to first value, and what they said.\n\n"
            "Plans for reference: Starter $19, Professional $49, Business $99 a month."
        ),
    },
    {
        "slug": "white-glove-setup",
        "title": "White-glove setup (onboarding stuck past day 3)",
        "kind": "offer",
        "audience": "internal",
        "tags": ["onboarding", "escalation"],
        "body": (
            "**When:** onboarding is incomplete more than 3 days after signup (the cockpit opens an alert).\n\n"
            "**Offer:** a screenshare where we finish the setup together — calendar connection, number "
            "provisioning, AI prompt tuning — and run a live test call before hanging up.\n\n"
            "**How:** from the tenant page, *Create a task* (or the onboarding queue's screenshare button), call "
            "the owner, book 30 minutes. Escalate to the CS lead if the owner cannot be reached in 2 days."
        ),
    },
    {
        "slug": "past-due-policy",
        "title": "Past-due subscriptions",
        "kind": "policy",
        "audience": "internal",
        "tags": ["billing", "dunning"],
        "body": (
            "**A subscription past due or inactive goes to billing ops at once** (the past-due queue).\n\n"
            "- Dunning emails and texts go out on day 0, 3 and 7 with the Stripe customer-portal link, and a "
            "final notice after.\n"
            "- Billing ops may pause dunning while they talk to the owner, and escalate to the CSM when the "
            "problem is not the card.\n"
            "- Never promise a discount or extension in a dunning conversation: that is a CS lead's decision."
        ),
    },
    {
        "slug": "update-payment-method",
        "title": "Updating your payment method",
        "kind": "how_to",
        "audience": "customers",
        "tags": ["billing"],
        "body": (
            "1. Open the **billing link** in our email or text (or *Billing* in your account menu).\n"
            "2. Choose **Update payment method** and enter the new card.\n"
            "3. Any unpaid invoice is retried right away; you will get a receipt by email.\n\n"
            "The link opens a secure Stripe page: we never see your card number."
        ),
    },
]


def create(apps, schema_editor):
    Article = apps.get_model("knowledge", "Article")
    ArticleVersion = apps.get_model("knowledge", "ArticleVersion")
    now = timezone.now()
    for data in ARTICLES:
        if Article.objects.filter(slug=data["slug"]).exists():
            continue
        tags = sorted(data["tags"])
        article = Article.objects.create(
            **{k: v for k, v in data.items() if k != "tags"},
            status="published",
            tags=tags,
            tag_text="," + ",".join(tags) + ",",
            version=1,
            created_at=now,
            updated_at=now,
            updated_by_label=AUTHOR,
        )
        ArticleVersion.objects.create(
            article=article,
            number=1,
            title=article.title,
            body=article.body,
            kind=article.kind,
            audience=article.audience,
            status="published",
            tags=tags,
            change_note="Starting article from the team's playbooks",
            edited_at=now,
            edited_by_label=AUTHOR,
        )


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
