"""Writes of the onboarding app: signup, starting an onboarding, completing milestones
(wizard, event, staff) and flagging stalled onboardings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Unpack

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Min, Q
from django.utils.text import slugify

from core.events import AuditAction, TimelineKind
from health.models import DailyRollup, Event
from messaging.models import Message
from messaging.outbox import message_send_soon
from tenants.hooks import signup_hooks_run
from tenants.models import ConsentSource, Membership, Tenant, TimelineEntry
from tenants.services import (
    NewTenant,
    audit_record,
    membership_create,
    tenant_create,
    tenant_sms_consent_record,
    timeline_entry,
    timeline_record,
)

from .models import Milestone, MilestoneProgress, OnboardingTemplate, TenantOnboarding

VERIFY_SALT = "onboarding.verify-email"
VERIFY_MAX_AGE = timedelta(days=7)
# A tenant created through the API more than this after its signup is an existing customer
# being imported (a backend that syncs new signups does so within minutes).
IMPORT_AFTER = timedelta(hours=1)


# --- templates and start --------------------------------------------------------------------


def template_for(*, plan: str, segment: str) -> OnboardingTemplate:
    """The current template for a plan and segment: the most specific match, else the default."""
    candidates = list(OnboardingTemplate.objects.filter(is_current=True))

    def fits(t: OnboardingTemplate) -> bool:
        return (not t.plans or plan in t.plans) and (not t.segments or segment in t.segments)

    matching = sorted(
        (t for t in candidates if fits(t) and not t.is_default), key=lambda t: -(bool(t.plans) + bool(t.segments))
    )
    if matching:
        return matching[0]
    default = next((t for t in candidates if t.is_default), None)
    if default is None:
        raise ValidationError("No default onboarding template: mark one template as the default.")
    return default


def onboarding_start(*, tenant: Tenant) -> TenantOnboarding:
    onboarding, _ = TenantOnboarding.all_tenants.get_or_create(
        tenant=tenant,
        defaults={
            "template": template_for(plan=tenant.plan, segment=tenant.segment),
            # An imported customer's onboarding clock starts at its import, not at a signup
            # long past (else every import would be overdue, and alerted, at once).
            "started_at": tenant.known_since,
        },
    )
    return onboarding


# --- signup ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signup:
    user: AbstractBaseUser
    tenant: Tenant


def _external_id(company_name: str) -> str:
    return f"{slugify(company_name)[:40] or 'tenant'}-{secrets.token_hex(3)}"


def owner_signup(
    *,
    company_name: str,
    owner_name: str,
    email: str,
    password: str,
    phone: str,
    sms_consent: bool,
    plan: str,
    timezone: str,
    segment: str,
    now: datetime,
    verify_url: str,
    referred_by: Tenant | None = None,
) -> Signup:
    """Creates the owner, the tenant, the owner membership and the onboarding in one
    transaction, then emails the verification link once it has committed."""
    email = email.strip().lower()
    User = get_user_model()
    if User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).exists():
        raise ValidationError({"email": ["An account with this email already exists: log in, or reset your password."]})
    first, _, last = owner_name.strip().partition(" ")
    with transaction.atomic():
        try:
            user = User.objects.create_user(
                username=email, email=email, password=password, first_name=first[:150], last_name=last[:150]
            )
        except IntegrityError:
            # Race: the same email signed up twice at once; the unique username decides.
            raise ValidationError({"email": ["An account with this email already exists."]}) from None
        tenant = tenant_create(
            external_id=_external_id(company_name),
            name=company_name,
            owner_email=email,
            owner_name=owner_name,
            owner_phone=phone,
            plan=plan,
            timezone=timezone,
            segment=segment,
            signed_up_at=now,
            now=now,
            actor=user,
            referred_by=referred_by,
        )
        if phone and sms_consent:
            tenant_sms_consent_record(tenant=tenant, given=True, source=ConsentSource.SIGNUP, actor=user, now=now)
        membership_create(tenant=tenant, user=user, role=Membership.Role.OWNER, actor=user, now=now)
        onboarding_start(tenant=tenant)
        # What other apps start at signup (billing: the plan's free trial), in this same
        # transaction: the account exists with its trial, or not at all.
        signup_hooks_run(tenant=tenant, now=now)
        verification_email_send(user=user, tenant=tenant, verify_url=verify_url, now=now)
    return Signup(user=user, tenant=tenant)


def tenant_import(
    *, now: datetime, actor: Any, sms_consent: bool = False, ip: str | None = None, **fields: Unpack[NewTenant]
) -> Tenant:
    """A tenant created by the SaaS backend (POST /api/v1/tenants/) onboards like a signup:
    the tenant, its SMS consent (source `api`) and its onboarding for its plan and segment,
    all in one transaction — any error leaves nothing behind. Touchpoints follow from the
    tick, as for a signup: what is still due is sent, no backlog of past days."""
    if sms_consent and not fields.get("owner_phone", "").strip():
        raise ValidationError({"sms_consent": ["sms_consent needs owner_phone: there is no number to text."]})
    with transaction.atomic():
        tenant = tenant_create(now=now, actor=actor, ip=ip, **fields)
        if now - tenant.signed_up_at > IMPORT_AFTER:
            # An existing customer, not a fresh signup: the cockpit knows it from now on.
            Tenant.objects.filter(pk=tenant.pk).update(imported_at=now)
            tenant.imported_at = now
        if sms_consent:
            tenant_sms_consent_record(tenant=tenant, given=True, source=ConsentSource.API, actor=actor, now=now, ip=ip)
        onboarding_start(tenant=tenant)
    return tenant


def verification_token(user: AbstractBaseUser) -> str:
    return signing.dumps({"user": user.pk, "email": user.email}, salt=VERIFY_SALT)


def verification_email_send(*, user: AbstractBaseUser, tenant: Tenant, verify_url: str, now: datetime) -> None:
    """The verification link, through the outbox (sent when the caller's transaction commits).
    Two requests within a minute (a double click on "send a new link") send one email."""
    _email_soon(
        key=f"verify:{user.pk}:{user.email}:{now:%Y-%m-%dT%H:%M}",
        purpose="onboarding.verify",
        tenant=tenant,
        to=user.email,
        subject=f"Verify your email for {settings.BRAND_NAME}",
        body=f"Hi {user.first_name or user.email},\n\nConfirm your email address to finish your first "
        f"onboarding step:\n\n{verify_url}{verification_token(user)}/\n\nThe link works for 7 days.",
        now=now,
    )


def _email_soon(*, key: str, purpose: str, tenant: Tenant, to: str, subject: str, body: str, now: datetime) -> None:
    """An email a person is waiting for, through the outbox: sent when the caller commits."""
    message = Message(
        dedupe_key=key,
        purpose=purpose,
        channel=Message.Channel.EMAIL,
        tenant=tenant,
        recipient=to,
        subject=subject,
        body=body,
        created_at=now,
        due_at=now,
        redact_after_send=True,  # verification and invitation links let their holder in
    )
    message_send_soon(message, now=now)


def email_verify(*, token: str, now: datetime) -> Tenant:
    """Completes the verify_email milestone of every tenant the user owns. Raises
    ValidationError for a bad, expired or outdated link."""
    try:
        payload = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.SignatureExpired:
        raise ValidationError("This verification link has expired; sign in and send a new one.") from None
    except signing.BadSignature:
        raise ValidationError("This verification link is not valid; sign in and send a new one.") from None
    user = get_user_model().objects.filter(pk=payload.get("user"), email=payload.get("email")).first()
    if user is None:
        raise ValidationError("This verification link is for an address that has since changed.")
    tenants = Tenant.objects.filter(memberships__user=user, memberships__role=Membership.Role.OWNER)
    for tenant in tenants:
        for milestone in milestones_open(tenant=tenant).filter(step="verify_email"):
            milestone_complete(
                tenant=tenant,
                milestone=milestone,
                source=MilestoneProgress.Source.WIZARD,
                now=now,
                actor=user,
                data={"email": user.email},
            )
    return tenants.first()


# --- milestones -----------------------------------------------------------------------------


def milestones_open(*, tenant: Tenant):
    onboarding = TenantOnboarding.objects.for_tenant(tenant).first()
    if onboarding is None:
        return Milestone.objects.none()
    done = MilestoneProgress.objects.for_tenant(tenant).values("milestone_id")
    return Milestone.objects.filter(template_id=onboarding.template_id).exclude(id__in=done).order_by("position")


def _refresh_state(*, onboarding: TenantOnboarding, now: datetime) -> None:
    """Completion and first value follow from the progress rows; set once, never unset."""
    tenant = onboarding.tenant
    milestones = list(Milestone.objects.filter(template_id=onboarding.template_id))
    done = dict(MilestoneProgress.objects.for_tenant(tenant).values_list("milestone_id", "completed_at"))
    changed = []
    first_value = next((m for m in milestones if m.is_first_value), None)
    if onboarding.first_value_at is None and first_value is not None and first_value.id in done:
        onboarding.first_value_at = done[first_value.id]
        changed.append("first_value_at")
    required_open = [m for m in milestones if m.required and m.id not in done]
    if onboarding.completed_at is None and not required_open:
        # Complete when the last required milestone closed (a replayed event may be older).
        onboarding.completed_at = max((done[m.id] for m in milestones if m.required), default=now)
        changed.append("completed_at")
        timeline_record(
            tenant=tenant,
            at=onboarding.completed_at,
            kind=TimelineKind.ONBOARDING_COMPLETED,
            summary="Onboarding complete: every required milestone is done",
        )
    overdue = [m for m in required_open if onboarding.started_at + timedelta(days=m.expected_by_day) <= now]
    if onboarding.stalled_since is not None and not overdue:
        onboarding.stalled_since = None
        changed.append("stalled_since")
    if changed:
        onboarding.save(update_fields=changed)


def milestone_complete(
    *,
    tenant: Tenant,
    milestone: Milestone,
    source: str,
    now: datetime,
    actor: AbstractBaseUser | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> bool:
    """Marks a milestone done for a tenant; False (and no change) when it already was. The
    milestone must belong to the tenant's template: anything else is a ValidationError."""
    onboarding = TenantOnboarding.objects.for_tenant(tenant).select_related("tenant").first()
    if onboarding is None or milestone.template_id != onboarding.template_id:
        raise ValidationError("This milestone is not part of this tenant's onboarding.")
    completed_at = at or now
    with transaction.atomic():
        # The unique (tenant, milestone) constraint is the guard: a second completion (a
        # double submit, a replayed event, owner and CSM at once) inserts nothing.
        progress, created = MilestoneProgress.all_tenants.get_or_create(
            tenant=tenant,
            milestone=milestone,
            defaults={
                "completed_at": completed_at,
                "source": source,
                "completed_by": actor,
                "note": note,
                "data": data or {},
            },
        )
        if not created:
            return False
        who = {"wizard": "by the owner", "event": f"by the first {milestone.event_name} event", "staff": "by staff"}[
            source
        ]
        timeline_record(
            tenant=tenant,
            at=completed_at,
            kind=TimelineKind.MILESTONE_COMPLETED,
            summary=f"Milestone “{milestone.title}” completed {who}",
            data={"milestone": milestone.key, "source": source, "note": note},
        )
        if source == MilestoneProgress.Source.STAFF:
            audit_record(
                actor=actor,
                action=AuditAction.MILESTONE_COMPLETE,
                target=progress,
                tenant=tenant,
                at=now,
                after={"milestone": milestone.key, "note": note},
            )
        _refresh_state(onboarding=onboarding, now=now)
    return True


def milestones_complete_from_events(*, now: datetime) -> int:
    """Completes open event milestones whose event has arrived, at the first such event's
    time. One query finds every open (tenant, milestone); one aggregate per event name finds
    the first events."""
    open_pairs = _open_event_milestones()
    completed = 0
    by_name: dict[str, list[tuple[int, int]]] = {}
    for milestone_id, event_name, tenant_id in open_pairs:
        by_name.setdefault(event_name, []).append((milestone_id, tenant_id))
    for event_name, pairs in by_name.items():
        # The daily rollups say cheaply which of these tenants have such an event at all; only
        # those few are looked up in the (large) events table for the first one's time.
        rollups = DailyRollup.all_tenants.filter(tenant_id__in={t for _, t in pairs})
        if event_name != "*":
            rollups = rollups.filter(name=event_name)
        tenant_ids = set(rollups.values_list("tenant_id", flat=True).distinct())
        if not tenant_ids:
            continue
        events = Event.all_tenants.filter(tenant_id__in=tenant_ids, occurred_at__lte=now)
        if event_name != "*":
            events = events.filter(name=event_name)
        first_at = dict(events.values("tenant_id").annotate(first=Min("occurred_at")).values_list("tenant_id", "first"))
        milestones = {m.id: m for m in Milestone.objects.filter(id__in={m for m, _ in pairs})}
        tenants = {t.id: t for t in Tenant.objects.filter(id__in=set(first_at))}
        for milestone_id, tenant_id in pairs:
            if tenant_id in first_at and milestone_complete(
                tenant=tenants[tenant_id],
                milestone=milestones[milestone_id],
                source=MilestoneProgress.Source.EVENT,
                now=now,
                at=first_at[tenant_id],
            ):
                completed += 1
    return completed


def _open_event_milestones() -> list[tuple[int, str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT m.id, m.event_name, o.tenant_id
            FROM onboarding_tenantonboarding o
            JOIN onboarding_milestone m ON m.template_id = o.template_id AND m.completion = 'event'
            JOIN tenants_tenant t ON t.id = o.tenant_id AND t.lifecycle_stage <> 'churned'
            WHERE NOT EXISTS (SELECT 1 FROM onboarding_milestoneprogress p
                              WHERE p.tenant_id = o.tenant_id AND p.milestone_id = m.id)
            """
        )
        return cursor.fetchall()


def onboardings_flag_stalled(*, now: datetime) -> int:
    """Sets stalled_since on onboardings with a required milestone open past its expected day
    (the onboarding_incomplete escalation reads it); a newly stalled one lands on the timeline."""
    with transaction.atomic():
        # SKIP LOCKED: a concurrent tick flags other tenants instead of the same ones twice.
        candidates = list(
            TenantOnboarding.all_tenants.filter(stalled_since__isnull=True, completed_at__isnull=True)
            .exclude(tenant__lifecycle_stage=Tenant.LifecycleStage.CHURNED)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("tenant")
        )
        if not candidates:
            return 0
        done = set(
            MilestoneProgress.all_tenants.filter(tenant_id__in=[o.tenant_id for o in candidates]).values_list(
                "tenant_id", "milestone_id"
            )
        )
        required: dict[int, list[Milestone]] = {}
        for m in Milestone.objects.filter(template_id__in={o.template_id for o in candidates}, required=True):
            required.setdefault(m.template_id, []).append(m)
        flagged, entries = [], []
        for o in candidates:
            overdue = [
                m
                for m in required.get(o.template_id, [])
                if (o.tenant_id, m.id) not in done and o.started_at + timedelta(days=m.expected_by_day) <= now
            ]
            if overdue:
                since = min(o.started_at + timedelta(days=m.expected_by_day) for m in overdue)
                o.stalled_since = since
                flagged.append(o)
                entries.append(
                    timeline_entry(
                        tenant_id=o.tenant_id,
                        at=now,
                        kind=TimelineKind.ONBOARDING_STALLED,
                        summary="Onboarding stalled: " + ", ".join(m.title for m in overdue) + " overdue",
                        data={"milestones": [m.key for m in overdue]},
                    )
                )
        TenantOnboarding.all_tenants.bulk_update(flagged, ["stalled_since"])
        TimelineEntry.all_tenants.bulk_create(entries)
    return len(flagged)


INVITE_SALT = "onboarding.invite"
INVITE_MAX_AGE = timedelta(days=14)


def teammate_invite_send(
    *, tenant: Tenant, email: str, inviter: AbstractBaseUser, join_url: str, now: datetime
) -> None:
    """The invitation, through the outbox; the same invitation twice within a minute is one email."""
    token = signing.dumps({"tenant": tenant.pk, "email": email}, salt=INVITE_SALT)
    inviter_name = inviter.get_full_name() or inviter.email
    _email_soon(
        key=f"invite:{tenant.pk}:{email.lower()}:{now:%Y-%m-%dT%H:%M}",
        purpose="onboarding.invite",
        tenant=tenant,
        to=email,
        subject=f"{inviter_name} invited you to {tenant.name} on {settings.BRAND_NAME}",
        body=f"{inviter_name} is setting up {tenant.name} and would like you on board.\n\n"
        f"Join here (the link works for 14 days): {join_url}{token}/\n",
        now=now,
    )


def invitation_read(*, token: str) -> tuple[Tenant, str]:
    try:
        payload = signing.loads(token, salt=INVITE_SALT, max_age=INVITE_MAX_AGE)
    except signing.SignatureExpired:
        raise ValidationError("This invitation has expired; ask for a new one.") from None
    except signing.BadSignature:
        raise ValidationError("This invitation link is not valid.") from None
    tenant = Tenant.objects.filter(pk=payload.get("tenant")).first()
    if tenant is None:
        raise ValidationError("The company account of this invitation no longer exists.")
    return tenant, payload["email"]


def invitation_accept(*, token: str, name: str, password: str, now: datetime) -> AbstractBaseUser:
    """Creates the invited teammate's login and membership (one transaction)."""
    tenant, email = invitation_read(token=token)
    User = get_user_model()
    if User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).exists():
        raise ValidationError(f"An account for {email} already exists: log in as {email}, then open this link again.")
    first, _, last = name.strip().partition(" ")
    with transaction.atomic():
        user = User.objects.create_user(
            username=email, email=email, password=password, first_name=first[:150], last_name=last[:150]
        )
        membership_create(tenant=tenant, user=user, role=Membership.Role.MEMBER, actor=user, now=now)
    return user


def template_new_version(
    *, template: OnboardingTemplate, actor: AbstractBaseUser | None, now: datetime
) -> OnboardingTemplate:
    """Copies a template and its milestones as the next version and makes the copy the one new
    signups get. Tenants on the old version keep it (their progress points at its milestones)."""
    with transaction.atomic():
        # Locking the current version serialises two copies made at once.
        OnboardingTemplate.objects.select_for_update().filter(slug=template.slug, is_current=True).update(
            is_current=False
        )
        latest = OnboardingTemplate.objects.filter(slug=template.slug).order_by("-version").first()
        copy = OnboardingTemplate.objects.create(
            slug=template.slug,
            version=latest.version + 1,
            name=template.name,
            description=template.description,
            is_default=template.is_default,
            plans=template.plans,
            segments=template.segments,
            is_current=True,
            created_at=now,
        )
        Milestone.objects.bulk_create(
            [
                Milestone(
                    template=copy,
                    position=m.position,
                    key=m.key,
                    title=m.title,
                    help_text=m.help_text,
                    required=m.required,
                    expected_by_day=m.expected_by_day,
                    completion=m.completion,
                    step=m.step,
                    event_name=m.event_name,
                    is_first_value=m.is_first_value,
                )
                for m in template.milestones.all()
            ]
        )
        audit_record(
            actor=actor,
            action=AuditAction.TEMPLATE_NEW_VERSION,
            target=copy,
            at=now,
            before={"version": template.version},
            after={"version": copy.version},
        )
    return copy


def template_revise(
    *,
    template: OnboardingTemplate,
    name: str,
    description: str,
    milestones: list[dict[str, Any]],
    actor: AbstractBaseUser | None,
    now: datetime,
) -> OnboardingTemplate:
    """Saves an edited milestone list as the template's next version (new signups get it;
    tenants already on a version keep theirs). Raises ValidationError naming the problem."""
    if not name.strip():
        raise ValidationError("Give the template a name.")
    if not milestones:
        raise ValidationError("A template needs at least one milestone.")
    keys = [m["key"] for m in milestones]
    if len(set(keys)) != len(keys):
        raise ValidationError(f"Two milestones share the key “{next(k for k in keys if keys.count(k) > 1)}”.")
    if sum(bool(m.get("is_first_value")) for m in milestones) > 1:
        raise ValidationError("Mark at most one milestone as first value.")
    with transaction.atomic():
        copy = template_new_version(template=template, actor=actor, now=now)
        copy.name, copy.description = name.strip(), description.strip()
        copy.save(update_fields=["name", "description"])
        copy.milestones.all().delete()
        Milestone.objects.bulk_create([Milestone(template=copy, position=i, **m) for i, m in enumerate(milestones, 1)])
        audit_record(actor=actor, action=AuditAction.TEMPLATE_REVISE, target=copy, at=now, after={"milestones": keys})
    return copy


def invitation_accept_as(*, token: str, user: AbstractBaseUser, now: datetime) -> Tenant:
    """An invited person who already has a login joins with it (the link's email must be theirs)."""
    tenant, email = invitation_read(token=token)
    if user.email.lower() != email.lower():
        raise ValidationError(f"This invitation is for {email}; you are logged in as {user.email}.")
    if not Membership.objects.for_tenant(tenant).filter(user=user).exists():
        membership_create(tenant=tenant, user=user, role=Membership.Role.MEMBER, actor=user, now=now)
    return tenant
