"""Writes for billing: Stripe Checkout and Customer Portal sessions, and what billing ops do
about a past-due subscription (contacted, pause or resume dunning, escalate to the CSM).

Every Stripe create call carries an idempotency key, so a retried request (the SDK retries
network errors; people double-click) makes one session, not two. Every staff action is
audited and lands on the tenant's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from core.events import AuditAction
from messaging.models import Message
from messaging.outbox import messages_enqueue, messages_send_now
from tenants.models import Tenant
from tenants.services import audit_record, timeline_record

from .gateway import BillingNotConfigured, stripe_client
from .models import Customer, Subscription, Trial
from .plans import PLANS, trial_days
from .selectors import site_url

NOTE_MAX = 1000


class BillingError(Exception):
    """Stripe refused or could not be reached; the message is fit to show a person."""


class BillingUnavailable(BillingError):
    """This installation cannot take payments yet (no Stripe key, or a plan without a price).
    The message names the setting, for staff and the log; owners are shown OWNER_MESSAGE."""

    OWNER_MESSAGE = (
        "Online payment is not set up yet. Nothing is lost: your account keeps running, and we will be in touch."
    )


@dataclass(frozen=True)
class RedirectTo:
    url: str


def _stripe_call(what: str, call: Any) -> Any:
    try:
        return call()
    except BillingNotConfigured as exc:
        raise BillingUnavailable(str(exc)) from None
    except stripe.StripeError as exc:
        raise BillingError(f"Stripe could not {what}: {exc.user_message or exc.__class__.__name__}.") from None


def customer_ensure(*, tenant: Tenant, now: datetime) -> Customer:
    """The tenant's Stripe customer, created (with metadata.tenant) the first time."""
    existing = Customer.objects.filter(tenant=tenant).first()
    if existing is not None:
        return existing
    created = _stripe_call(
        "create the customer",
        lambda: stripe_client().v1.customers.create(
            params={
                "email": tenant.owner_email,
                "name": tenant.name,
                "metadata": {"tenant": tenant.external_id},
            },
            # One customer per tenant however often this runs before the webhook lands.
            options={"idempotency_key": f"customer-create:{tenant.external_id}"},
        ),
    )
    customer, _ = Customer.objects.get_or_create(
        stripe_id=created.id,
        defaults={"tenant": tenant, "email": tenant.owner_email, "created_at": now, "updated_at": now},
    )
    if customer.tenant_id is None:
        customer.tenant = tenant
        customer.save(update_fields=["tenant"])
    return customer


def checkout_session_create(*, tenant: Tenant, plan_key: str, actor: AbstractBaseUser, now: datetime) -> RedirectTo:
    """A Stripe Checkout session for `plan_key` with the trial, naming the tenant on the
    session, the customer and the subscription (metadata.tenant) so every webhook matches."""
    plan = PLANS.get(plan_key)
    if plan is None:
        raise ValidationError({"plan": f"“{plan_key}” is not a plan: choose {', '.join(PLANS)}."})
    if not plan.price_id:
        raise BillingUnavailable(f"The {plan.name} plan has no Stripe price: set {plan.price_setting}.")
    live = Subscription.objects.for_tenant(tenant).exclude(status__in=["canceled", "incomplete_expired"]).first()
    if live is not None:
        raise ValidationError(
            {
                "plan": f"{tenant.name} already has a subscription ({live.get_status_display().lower()}): "
                "change the plan in “Manage billing”."
            }
        )
    customer = customer_ensure(tenant=tenant, now=now)
    metadata = {"tenant": tenant.external_id}
    subscription_data: dict[str, Any] = {"metadata": metadata}
    # The trial is for a first subscription only: coming back after a cancellation, or after
    # the free trial signup gave (Trial), is not a fresh 14 days free.
    had_trial = Trial.objects.for_tenant(tenant).exists() or Subscription.objects.for_tenant(tenant).exists()
    if trial_days() and not had_trial:
        subscription_data["trial_period_days"] = trial_days()
    session = _stripe_call(
        "start Checkout",
        lambda: stripe_client().v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "customer": customer.stripe_id,
                "client_reference_id": tenant.external_id,
                "line_items": [{"price": plan.price_id, "quantity": 1}],
                "subscription_data": subscription_data,
                "metadata": metadata,
                "success_url": site_url("billing:home") + "?checkout=done",
                "cancel_url": site_url("billing:home") + "?checkout=cancelled",
            },
            # A double click in the same minute gets the same session back.
            options={"idempotency_key": f"checkout:{tenant.external_id}:{plan.key}:{now:%Y%m%d%H%M}"},
        ),
    )
    audit_record(
        actor=actor, action=AuditAction.BILLING_CHECKOUT, target=tenant, tenant=tenant, at=now, after={"plan": plan.key}
    )
    return RedirectTo(session.url)


def portal_session_create(*, tenant: Tenant, now: datetime, return_url: str) -> RedirectTo:
    """A fresh Customer Portal session (they expire within minutes, so one per click)."""
    customer = Customer.objects.filter(tenant=tenant).first()
    if customer is None:
        raise BillingError(f"{tenant.name} has no Stripe customer yet: start a subscription first.")
    session = _stripe_call(
        "open the billing portal",
        lambda: stripe_client().v1.billing_portal.sessions.create(
            params={"customer": customer.stripe_id, "return_url": return_url},
            options={"idempotency_key": f"portal:{customer.stripe_id}:{now:%Y%m%d%H%M%S}"},
        ),
    )
    return RedirectTo(session.url)


# --- billing ops -------------------------------------------------------------------------------


def dunning_episode_fix(*, subscription: Subscription) -> Subscription:
    """Fixes day 0 of the current past-due episode's dunning the first time a run starts
    (idempotent: a second call, or a second tick, changes nothing)."""
    if subscription.dunning_episode_at is None and subscription.past_due_since is not None:
        # The update is conditional: of two ticks racing here, the second writes nothing.
        Subscription.all_tenants.filter(pk=subscription.pk, dunning_episode_at=None).update(
            dunning_episode_at=subscription.past_due_since
        )
        subscription.refresh_from_db(fields=["dunning_episode_at"])
    return subscription


def _subscription_locked(subscription: Subscription) -> Subscription:
    # of=self: the tenant join is an outer join (nullable), and PostgreSQL refuses to lock one.
    locked = Subscription.all_tenants.select_for_update(of=("self",)).select_related("tenant")
    return locked.get(pk=subscription.pk)


def _clean_note(note: str, *, required: bool) -> str:
    note = (note or "").strip()
    if required and not note:
        raise ValidationError({"note": "Say what was agreed: a note is required."})
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": f"The note is {len(note)} characters; at most {NOTE_MAX}."})
    return note


def _past_due_only(subscription: Subscription) -> None:
    if not subscription.is_past_due:
        raise ValidationError(
            {"subscription": f"The subscription is {subscription.get_status_display().lower()}, not past due."}
        )


def subscription_mark_contacted(
    *, subscription: Subscription, note: str, actor: AbstractBaseUser, now: datetime
) -> Subscription:
    note = _clean_note(note, required=True)
    with transaction.atomic():
        subscription = _subscription_locked(subscription)
        before = {"last_contacted_at": subscription.last_contacted_at}
        subscription.last_contacted_at, subscription.last_contacted_by = now, actor
        subscription.last_contact_note = note
        subscription.save(update_fields=["last_contacted_at", "last_contacted_by", "last_contact_note", "updated_at"])
        _trace(subscription, actor, now, "contacted", f"Billing ops contacted the owner: {note}", before, note)
    return subscription


def subscription_dunning_pause(
    *, subscription: Subscription, note: str, actor: AbstractBaseUser, now: datetime
) -> Subscription:
    """Stops the dunning messages of this past-due episode (e.g. the owner promised to pay on
    Friday); the alert stays open. Resuming starts the remaining schedule again."""
    note = _clean_note(note, required=True)
    with transaction.atomic():
        subscription = _subscription_locked(subscription)
        _past_due_only(subscription)
        if subscription.dunning_paused_at is not None:
            raise ValidationError({"subscription": "Dunning is already paused for this subscription."})
        subscription.dunning_paused_at, subscription.dunning_paused_by = now, actor
        subscription.dunning_pause_note = note
        subscription.save(update_fields=["dunning_paused_at", "dunning_paused_by", "dunning_pause_note", "updated_at"])
        _trace(subscription, actor, now, "dunning_paused", f"Dunning paused: {note}", {"paused": False}, note)
    return subscription


def subscription_dunning_resume(*, subscription: Subscription, actor: AbstractBaseUser, now: datetime) -> Subscription:
    with transaction.atomic():
        subscription = _subscription_locked(subscription)
        _past_due_only(subscription)
        if subscription.dunning_paused_at is None:
            raise ValidationError({"subscription": "Dunning is not paused for this subscription."})
        subscription.dunning_paused_at, subscription.dunning_paused_by = None, None
        subscription.dunning_pause_note = ""
        subscription.dunning_resumes += 1
        subscription.save(
            update_fields=[
                "dunning_paused_at",
                "dunning_paused_by",
                "dunning_pause_note",
                "dunning_resumes",
                "updated_at",
            ]
        )
        _trace(subscription, actor, now, "dunning_resumed", "Dunning resumed", {"paused": True}, "")
    return subscription


ESCALATION_PURPOSE = "billing.escalation"  # the Message purpose of the email to the CSM


def _escalation_email_key(subscription: Subscription, csm: AbstractBaseUser, now: datetime) -> str | None:
    """The dedupe key of this escalation's email, or None when the CSM has it (or will) for
    this past-due episode already. An email that did not go out (failed, skipped, in review)
    is written again under the next key: escalating again is how billing ops retry it."""
    episode = (subscription.dunning_episode_at or subscription.past_due_since or now).isoformat()
    prefix = f"billing-escalation:{subscription.id}:{episode}:{csm.id}"
    earlier = list(
        Message.objects.filter(dedupe_key__startswith=prefix).order_by("id").values_list("status", flat=True)
    )
    if earlier and earlier[-1] not in (Message.Status.FAILED, Message.Status.SKIPPED, Message.Status.NEEDS_REVIEW):
        return None
    return f"{prefix}:{len(earlier)}"


@dataclass(frozen=True)
class EscalationResult:
    subscription: Subscription
    email_sent: bool
    summary: str  # for billing ops: who it went to, and whether the email left


def subscription_escalate(
    *, subscription: Subscription, note: str, actor: AbstractBaseUser, now: datetime
) -> EscalationResult:
    """Hands the account to its CSM: the escalation on the page and an email to them, both in
    one transaction (the email is an outbox message: it exists if and only if the escalation
    was recorded), sent at once. One email per past-due episode and CSM: escalating again
    records it again but does not write to the same person twice."""
    note = _clean_note(note, required=False)
    with transaction.atomic():
        subscription = _subscription_locked(subscription)
        _past_due_only(subscription)
        tenant = subscription.tenant
        csm = tenant.csm_owner if tenant else None
        if csm is None or not csm.email:
            raise ValidationError({"subscription": "This tenant has no CSM with an email address to escalate to."})
        subscription.escalated_at, subscription.escalated_to = now, csm
        subscription.save(update_fields=["escalated_at", "escalated_to", "updated_at"])
        who = csm.get_full_name() or csm.get_username()
        summary = f"Escalated to {who} by billing ops" + (f": {note}" if note else "")
        _trace(subscription, actor, now, "escalated", summary, {"escalated_to": None}, note)
        body = (
            f"{tenant.name}'s subscription is past due since {subscription.past_due_since:%-d %b %Y}.\n\n"
            + (f"Billing ops: {note}\n\n" if note else "")
            + f"The account: {site_url('cockpit:tenant-detail', tenant.external_id)}\n"
            + f"The past-due queue: {site_url('billing-ops:queue')}\n"
        )
        key = _escalation_email_key(subscription, csm, now)
        if key is not None:
            messages_enqueue(
                [
                    Message(
                        dedupe_key=key,
                        purpose=ESCALATION_PURPOSE,
                        topic=f"subscription:{subscription.id}",
                        channel=Message.Channel.EMAIL,
                        tenant=tenant,
                        user=csm,
                        recipient=csm.email,
                        subject=f"Past due: {tenant.name} needs you",
                        body=body,
                        created_at=now,
                        due_at=now,
                    )
                ]
            )
    # Committed: sent now through the outbox's claim (the tick sends it if this fails to).
    if key is None:
        return EscalationResult(subscription, True, f"Escalated to {who} (emailed already for this episode)")
    [message] = messages_send_now(dedupe_keys=[key], now=now)
    if message.status == Message.Status.SENT:
        return EscalationResult(subscription, True, f"Escalated to {who}: the email to {csm.email} went out")
    return EscalationResult(
        subscription,
        False,
        f"Escalated to {who}, but the email to {csm.email} did not go out ({message.reason or message.status}); "
        "the outbox retries what can be retried",
    )


def _trace(
    subscription: Subscription,
    actor: AbstractBaseUser,
    now: datetime,
    action: str,
    summary: str,
    before: dict[str, Any],
    note: str,
) -> None:
    tenant = subscription.tenant
    audit_record(
        actor=actor,
        action=f"billing.{action}",
        target=subscription,
        tenant=tenant,
        at=now,
        before=before,
        after={"note": note} if note else {"status": subscription.status},
    )
    if tenant is not None:
        timeline_record(
            tenant=tenant,
            at=now,
            kind=f"billing.{action}",
            summary=summary,
            data={"subscription": subscription.stripe_id, "by": actor.get_username()},
        )
