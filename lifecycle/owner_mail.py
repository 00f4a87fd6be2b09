"""An email to a tenant's owner from the lifecycle (the CSAT and quarterly NPS surveys): one
message through the outbox, with the unsubscribe footer and one-click List-Unsubscribe every
non-transactional email carries, its survey link removed once sent."""

from __future__ import annotations

from datetime import datetime

from messaging.models import Message
from messaging.receipts import unsubscribe_url
from tenants.models import Tenant


def first_name(tenant: Tenant) -> str:
    return tenant.owner_name.split()[0] if tenant.owner_name.strip() else "there"


def owner_survey_email(
    *, tenant: Tenant, dedupe_key: str, purpose: str, subject: str, text: str, now: datetime
) -> Message:
    unsubscribe = unsubscribe_url(email=tenant.owner_email, tenant_id=tenant.id)
    return Message(
        dedupe_key=dedupe_key,
        purpose=purpose,
        topic=f"tenant:{tenant.id}",
        channel=Message.Channel.EMAIL,
        tenant=tenant,
        recipient=tenant.owner_email,
        subject=subject[:300],
        body=f"{text}\n\n—\nYou get these emails as the owner of {tenant.name}. Unsubscribe: {unsubscribe}",
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        redact_after_send=True,  # the link in it is a key to the survey
        created_at=now,
        due_at=now,
    )
