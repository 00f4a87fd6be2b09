"""Demo QA reviews: the Day 7 reviews a CS team would have logged — for about a third of the
tenants that have handled calls, one or two calls scored against the rubric, through the
real service (on the timeline, audited), some with an action item."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from health.selectors import latest_events
from tenants.models import Tenant

from .models import RUBRIC, Review
from .services import action_item_add, review_create

HIGHLIGHTS = [
    "Greeted by name and booked the caller in under two minutes. **Keep** the short confirmation.",
    "Caller asked about Saturday hours; the receptionist did not know them.\n\n- add weekend hours to the prompt",
    "Handled a price question well, but offered a discount it should not have.",
    "Transferred an urgent call correctly; the hold message is too long.",
]
ACTIONS = [
    ("Add the Saturday opening hours to the receptionist's prompt", "task"),
    ("Write down how we answer “is there a discount?”", "article"),
    ("Shorten the hold message to one sentence", "task"),
]


def seed_qa_reviews(*, now: datetime, seed: int) -> int:
    rng = random.Random(seed + 15)
    made, drafted = 0, False
    tenants = Tenant.objects.filter(external_id__startswith="demo-", csm_owner__isnull=False).order_by("external_id")
    for tenant in tenants.select_related("csm_owner"):
        if rng.random() > 0.35 or Review.objects.for_tenant(tenant).exists():
            continue
        calls = latest_events(tenant=tenant, limit=40, name="call.handled")
        for call in rng.sample(calls, min(len(calls), rng.choice((1, 2)))):
            at = call.occurred_at + timedelta(days=rng.randint(1, 4))
            review = review_create(
                tenant=tenant,
                title=f"Handled call of {call.occurred_at:%-d %b %H:%M} UTC",
                interaction_url="",
                event_id=call.id,
                scores={key: rng.choice((2, 3, 4, 4, 5)) for key in RUBRIC},
                highlights=rng.choice(HIGHLIGHTS),
                actor=tenant.csm_owner,
                now=min(at, now),
            )
            made += 1
            if rng.random() < 0.5:
                text, becomes = rng.choice(ACTIONS)
                if becomes == "article":
                    # One team, one article: once the first review drafted it, later reviews
                    # that raise the same gap make a task to finish it instead.
                    becomes = "task" if drafted else becomes
                    drafted = True
                action_item_add(review=review, text=text, becomes=becomes, actor=tenant.csm_owner, now=min(at, now))
    return made
