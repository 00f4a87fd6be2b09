"""Writes for tenants, memberships, the timeline, the audit log and API keys.

Every function is keyword-only, runs in one transaction and leaves a trace: a timeline entry
for what happened to a tenant, an audit row for what a person or key did.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NotRequired, TypedDict, Unpack

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from core.events import AuditAction, TimelineKind
from core.roles import StaffRole

from .hooks import timezone_hooks_run
from .models import ApiKey, AuditLog, ChurnReason, ConsentSource, Membership, Tenant, TimelineEntry
from .validators import validate_timezone

ONBOARDING_WINDOW = timedelta(days=30)
CHURN_NOTE_MAX = 500  # Tenant.churn_note
FUTURE_TOLERANCE = timedelta(minutes=5)
API_KEY_PREFIX = "csk"

# Who did something: a signed-in user, an API key, or (None) the system itself.
Actor = AbstractBaseUser | ApiKey | None


class TenantAlreadyExists(Exception):
    def __init__(self, external_id: str) -> None:
        super().__init__(f"A tenant with external_id “{external_id}” already exists.")
        self.external_id = external_id


# --- timeline and audit ----------------------------------------------------------------------


def timeline_entry(
    *, tenant_id: int, at: datetime, kind: str, summary: str, data: dict[str, Any] | None = None
) -> TimelineEntry:
    """An unsaved timeline row, for writers that insert many at once (bulk_create). `kind` is
    one of core.events.TimelineKind: anything else is a programming error, raised here."""
    return TimelineEntry(tenant_id=tenant_id, at=at, kind=TimelineKind(kind), summary=summary[:500], data=data or {})


def timeline_record(
    *, tenant: Tenant, at: datetime, kind: str, summary: str, data: dict[str, Any] | None = None
) -> TimelineEntry:
    """The one way any app puts something on a tenant's timeline."""
    entry = timeline_entry(tenant_id=tenant.pk, at=at, kind=kind, summary=summary, data=data)
    entry.save(force_insert=True)
    return entry


def _actor_fields(actor: Actor) -> dict[str, Any]:
    if actor is None:
        return {"actor": None, "actor_label": "system"}
    if isinstance(actor, ApiKey):
        return {"actor": None, "actor_label": f"api key {actor.name} ({actor.prefix})"}
    return {"actor": actor, "actor_label": actor.get_username()}


def _audit_row(
    *,
    actor: Actor,
    action: str,
    target: Any,
    at: datetime,
    tenant_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditLog:
    return AuditLog(
        at=at,
        action=AuditAction(action),  # one of core.events.AuditAction, or a ValueError here
        target_type=type(target).__name__,
        target_id=str(getattr(target, "pk", "")),
        target_repr=str(target)[:200],
        tenant_id=tenant_id,
        before=before,
        after=after,
        ip=ip,
        **_actor_fields(actor),
    )


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: Any,
    at: datetime,
    tenant: Tenant | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditLog:
    row = _audit_row(
        actor=actor,
        action=action,
        target=target,
        at=at,
        tenant_id=tenant.pk if tenant else None,
        before=before,
        after=after,
        ip=ip,
    )
    row.save()
    return row


def tenant_view_record(*, actor: Actor, tenant: Tenant, now: datetime, ip: str | None) -> None:
    """Staff opened a page of a tenant's data: explicit and audited (DESIGN.md, principle 5)."""
    audit_record(actor=actor, action=AuditAction.TENANT_VIEW, target=tenant, tenant=tenant, at=now, ip=ip)


def audit_record_many(
    *, actor: Actor, action: str, at: datetime, entries: list[tuple[Any, int | None, dict[str, Any] | None]]
) -> None:
    """audit_record for many targets at once (target, tenant id, after): one INSERT, for the
    system's bulk transitions (alerts opened or resolved by a tick)."""
    AuditLog.objects.bulk_create(
        _audit_row(actor=actor, action=action, target=target, at=at, tenant_id=tenant_id, after=after)
        for target, tenant_id, after in entries
    )


# --- tenants ---------------------------------------------------------------------------------


def lifecycle_stage_for(*, signed_up_at: datetime, now: datetime) -> str:
    if now - signed_up_at >= ONBOARDING_WINDOW:
        return Tenant.LifecycleStage.ADOPTION
    return Tenant.LifecycleStage.ONBOARDING


def _unique_slug(name: str, external_id: str) -> str:
    base = (slugify(name) or slugify(external_id) or "tenant")[:70]
    slug, n = base, 1
    while Tenant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def tenant_snapshot(tenant: Tenant) -> dict[str, Any]:
    return {
        "external_id": tenant.external_id,
        "name": tenant.name,
        "plan": tenant.plan,
        "timezone": tenant.timezone,
        "segment": tenant.segment,
        "lifecycle_stage": tenant.lifecycle_stage,
        "csm_owner": tenant.csm_owner_id,
        "owner_email": tenant.owner_email,
        "sms_consent_at": tenant.sms_consent_at.isoformat() if tenant.sms_consent_at else None,
        "sms_consent_source": tenant.sms_consent_source,
        "contract_ends_on": tenant.contract_ends_on.isoformat() if tenant.contract_ends_on else None,
    }


class NewTenant(TypedDict):
    """What a new tenant is made of: tenant_create's fields, and onboarding's tenant_import's."""

    external_id: str
    name: str
    owner_email: str
    plan: str
    signed_up_at: datetime
    timezone: NotRequired[str]  # "UTC" when left out
    owner_name: NotRequired[str]
    owner_phone: NotRequired[str]
    segment: NotRequired[str]


REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand


def new_referral_code() -> str:
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(8))


def tenant_create(
    *,
    now: datetime,
    actor: Actor,
    csm_owner: AbstractBaseUser | None = None,
    ip: str | None = None,
    referred_by: Tenant | None = None,
    **fields: Unpack[NewTenant],
) -> Tenant:
    """Creates a tenant. Raises ValidationError (field → messages) for bad input and
    TenantAlreadyExists for a taken external_id; nothing is written in either case."""
    signed_up_at = fields["signed_up_at"]
    if signed_up_at > now + FUTURE_TOLERANCE:
        raise ValidationError({"signed_up_at": ["signed_up_at cannot be in the future."]})
    tenant = Tenant(
        external_id=fields["external_id"].strip(),
        name=fields["name"].strip(),
        plan=fields["plan"],
        timezone=fields.get("timezone", "UTC"),
        signed_up_at=signed_up_at,
        lifecycle_stage=lifecycle_stage_for(signed_up_at=signed_up_at, now=now),
        segment=fields.get("segment", "").strip(),
        csm_owner=csm_owner,
        owner_name=fields.get("owner_name", "").strip(),
        owner_email=fields["owner_email"].strip(),
        owner_phone=fields.get("owner_phone", "").strip(),
        referral_code=new_referral_code(),
        referred_by=referred_by,
    )
    if Tenant.objects.filter(external_id=tenant.external_id).exists():
        raise TenantAlreadyExists(tenant.external_id)
    tenant.slug = _unique_slug(tenant.name, tenant.external_id)
    if not tenant.name:
        raise ValidationError({"name": ["name must not be blank."]})
    # Uniqueness is left to the database: a check here would race with a concurrent insert
    # (and answer a ValidationError instead of TenantAlreadyExists or a fresh slug below).
    tenant.full_clean(validate_unique=False)
    try:
        _tenant_insert(tenant=tenant, now=now, actor=actor, ip=ip)
    except IntegrityError:
        # Race: another request created the same external_id (or took the slug) between our
        # check and our insert. The unique constraint wins; say which one it was.
        if Tenant.objects.filter(external_id=tenant.external_id).exists():
            raise TenantAlreadyExists(tenant.external_id) from None
        # Only the slug collided (two tenants of one name at once): a random suffix settles it.
        # (A referral code collision, one in a trillion, is settled by a new code as well.)
        tenant.pk = None
        tenant.slug = f"{tenant.slug[:70]}-{secrets.token_hex(3)}"
        tenant.referral_code = new_referral_code()
        _tenant_insert(tenant=tenant, now=now, actor=actor, ip=ip)
    return tenant


def _tenant_insert(*, tenant: Tenant, now: datetime, actor: Actor, ip: str | None) -> None:
    with transaction.atomic():
        tenant.save(force_insert=True)
        timeline_record(
            tenant=tenant,
            at=tenant.signed_up_at,
            kind=TimelineKind.TENANT_CREATED,
            summary=f"{tenant.name} signed up on the {tenant.get_plan_display()} plan",
            data={"plan": tenant.plan},
        )
        audit_record(
            actor=actor,
            action=AuditAction.TENANT_CREATE,
            target=tenant,
            tenant=tenant,
            at=now,
            after=tenant_snapshot(tenant),
            ip=ip,
        )


# How the timeline says where consent came from ("The owner agreed to SMS at signup").
CONSENT_GIVEN = {
    ConsentSource.API: "through the API",
    ConsentSource.SIGNUP: "at signup",
    ConsentSource.WIZARD: "in the onboarding wizard",
    ConsentSource.STAFF: "by phone, recorded by staff",
}
CONSENT_WITHDRAWN = {
    ConsentSource.API: "through the API",
    ConsentSource.SIGNUP: "at signup",
    ConsentSource.WIZARD: "in the onboarding wizard",
    ConsentSource.STAFF: "recorded by staff",
}


def tenant_sms_consent_record(
    *, tenant: Tenant, given: bool, source: str, actor: Actor, now: datetime, ip: str | None = None
) -> Tenant:
    """Records whether the owner agrees to SMS, with when and where (ConsentSource). Consent
    needs a phone to text; withdrawing it is always possible. Audited and on the timeline;
    recording the state the tenant already has writes nothing."""
    if source not in ConsentSource.values:
        raise ValidationError({"sms_consent_source": [f"Unknown consent source “{source}”."]})
    if given and not tenant.owner_phone:
        raise ValidationError({"sms_consent": ["SMS consent needs the owner's phone number first."]})
    if bool(tenant.sms_consent_at) == given:
        return tenant
    before = tenant_snapshot(tenant)
    with transaction.atomic():
        tenant.sms_consent_at = now if given else None
        tenant.sms_consent_source = source if given else ""
        tenant.save(update_fields=["sms_consent_at", "sms_consent_source", "updated_at"])
        _tenant_change_record(
            tenant=tenant,
            before=before,
            action=AuditAction.TENANT_SMS_CONSENT,
            summary=f"The owner agreed to SMS {CONSENT_GIVEN[source]}"
            if given
            else f"SMS consent withdrawn ({CONSENT_WITHDRAWN[source]})",
            data={"given": given, "source": source, "previous_source": before["sms_consent_source"]},
            actor=actor,
            now=now,
            ip=ip,
        )
    return tenant


def _tenant_change_record(
    *,
    tenant: Tenant,
    before: dict[str, Any],
    action: str,
    summary: str,
    data: dict[str, Any],
    actor: Actor,
    now: datetime,
    ip: str | None = None,
    kind: str = "",
    at: datetime | None = None,
    after_extra: dict[str, Any] | None = None,
) -> None:
    """A change to a tenant's own fields: on its timeline (`kind`, the audit action unless
    named; at `at`, when the change takes effect, else now) and in the audit log with the
    state before and after."""
    timeline_record(tenant=tenant, at=at or now, kind=kind or action, summary=summary, data=data)
    audit_record(
        actor=actor,
        action=action,
        target=tenant,
        tenant=tenant,
        at=now,
        before=before,
        after={**tenant_snapshot(tenant), **(after_extra or {})},
        ip=ip,
    )


def tenant_timezone_change(
    *, tenant: Tenant, timezone: str, actor: Actor, now: datetime, ip: str | None = None
) -> Tenant:
    """Moves the tenant to another IANA time zone. What is scheduled for it follows (the
    time-zone hooks: Day N and the send window are reckoned in the new zone); what went out
    stays as it was. Audited and on the timeline; the zone it already has writes nothing."""
    try:
        validate_timezone(timezone)
    except ValidationError as exc:
        raise ValidationError({"timezone": exc.messages}) from exc
    with transaction.atomic():
        # Locked: two changes at once (an admin edit, an API PATCH) apply one after the other,
        # each rescheduling from the zone the other left.
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if tenant.timezone == timezone:
            return tenant
        before = tenant_snapshot(tenant)
        previous = tenant.timezone
        tenant.timezone = timezone
        tenant.save(update_fields=["timezone", "updated_at"])
        timezone_hooks_run(tenant=tenant, previous=previous, now=now)
        _tenant_change_record(
            tenant=tenant,
            before=before,
            action=AuditAction.TENANT_TIMEZONE,
            summary=f"Time zone changed from {previous} to {timezone}; scheduled touchpoints follow",
            data={"from": previous, "to": timezone},
            actor=actor,
            now=now,
            ip=ip,
        )
    return tenant


CS_TEAM_ROLES = (StaffRole.CSM, StaffRole.CS_LEAD, StaffRole.ADMIN)


def tenant_csm_assign(
    *, tenant: Tenant, csm_id: int | None, actor: Actor, now: datetime, ip: str | None = None
) -> Tenant:
    """Gives the account to a CSM (or, with None, to nobody: it shows as unassigned). The CSM
    must be active on the CS team. Audited and on the timeline; the same CSM writes nothing."""
    csm = None
    if csm_id is not None:
        csm = get_user_model().objects.filter(id=csm_id, is_active=True, groups__name__in=CS_TEAM_ROLES).first()
        if csm is None:
            raise ValidationError({"csm": ["Choose an active member of the CS team (CSM, CS lead or admin)."]})
    with transaction.atomic():
        # Locked: two reassignments at once apply in turn, each audited against the other's result.
        tenant = Tenant.objects.select_for_update(of=("self",)).select_related("csm_owner").get(pk=tenant.pk)
        if tenant.csm_owner_id == csm_id:
            return tenant
        before = tenant_snapshot(tenant)
        previous = tenant.csm_owner
        tenant.csm_owner = csm
        tenant.save(update_fields=["csm_owner", "updated_at"])
        name = (csm.get_full_name() or csm.get_username()) if csm else "nobody"
        was = (previous.get_full_name() or previous.get_username()) if previous else "nobody"
        _tenant_change_record(
            tenant=tenant,
            before=before,
            action=AuditAction.TENANT_CSM,
            kind=TimelineKind.CSM_ASSIGNED,
            summary=f"CSM changed from {was} to {name}",
            data={"from": previous.pk if previous else None, "to": csm_id},
            actor=actor,
            now=now,
            ip=ip,
        )
    return tenant


CONTRACT_HORIZON = timedelta(days=5 * 366)


def tenant_contract_end_set(
    *, tenant: Tenant, ends_on: date | None, actor: Actor, now: datetime, ip: str | None = None
) -> Tenant:
    """Records when the tenant's contract ends (None: no fixed term). A live contract cannot
    end in the past — that is a renewal already missed, said as an error, not stored; more than
    five years out is a typo. Audited and on the timeline; the same date writes nothing."""
    today = now.date()
    if ends_on is not None and tenant.lifecycle_stage != Tenant.LifecycleStage.CHURNED:
        if ends_on < today:
            raise ValidationError(
                {"contract_ends_on": [f"{ends_on:%-d %b %Y} is in the past: a live contract ends today or later."]}
            )
        if ends_on > today + CONTRACT_HORIZON:
            raise ValidationError({"contract_ends_on": [f"{ends_on:%-d %b %Y} is more than five years away."]})
    with transaction.atomic():
        # Locked: two edits at once apply in turn, each audited against the other's result.
        tenant = Tenant.objects.select_for_update(of=("self",)).get(pk=tenant.pk)
        if tenant.contract_ends_on == ends_on:
            return tenant
        before = tenant_snapshot(tenant)
        tenant.contract_ends_on = ends_on
        tenant.save(update_fields=["contract_ends_on", "updated_at"])
        _tenant_change_record(
            tenant=tenant,
            before=before,
            action=AuditAction.TENANT_CONTRACT_END,
            kind=TimelineKind.CONTRACT_END,
            summary=f"Contract ends {ends_on:%-d %b %Y}" if ends_on else "No contract end date",
            data={"ends_on": ends_on.isoformat() if ends_on else None},
            actor=actor,
            now=now,
            ip=ip,
        )
    return tenant


def tenant_advance_lifecycle(*, tenant: Tenant, stage: str, now: datetime, reason: str) -> None:
    old = tenant.lifecycle_stage
    tenant.lifecycle_stage = stage
    tenant.save(update_fields=["lifecycle_stage", "updated_at"])
    timeline_record(
        tenant=tenant,
        at=now,
        kind=TimelineKind.LIFECYCLE_CHANGED,
        summary=f"Lifecycle stage {old} → {stage}: {reason}",
        data={"from": old, "to": stage},
    )


def tenant_mark_churned(
    *, tenant: Tenant, at: datetime, actor: Actor, now: datetime, reason: str = "", note: str = ""
) -> Tenant:
    """Records that a tenant left, on its effective date `at`, and why: `reason` is one of
    ChurnReason (seed 002's taxonomy), blank while nobody knows (a lapsed trial, a
    cancellation in the portal). Billing calls it when a cancellation takes effect; billing
    ops and the CSM record the reason later through the same function, which on a churned
    tenant sets the reason and note and keeps the date. Churned tenants are no longer scored
    or scheduled."""
    reason, note = (reason or "").strip(), (note or "").strip()
    if reason and reason not in ChurnReason.values:
        choices = ", ".join(f"{value} ({label})" for value, label in ChurnReason.choices)
        raise ValidationError({"reason": [f"“{reason}” is not a churn reason: choose one of {choices}."]})
    if len(note) > CHURN_NOTE_MAX:
        raise ValidationError({"note": [f"The note is {len(note)} characters; at most {CHURN_NOTE_MAX}."]})
    with transaction.atomic():
        # Re-read under a row lock: the tick (cancellation due) and a person (recording the
        # reason) may act at once; the second sees the first's write and only adds to it.
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        before = {**tenant_snapshot(tenant), "churn_reason": tenant.churn_reason, "churn_note": tenant.churn_note}
        label = ChurnReason(reason).label if reason else ""
        if tenant.lifecycle_stage != Tenant.LifecycleStage.CHURNED:
            tenant.lifecycle_stage, tenant.churned_at = Tenant.LifecycleStage.CHURNED, at
            tenant.churn_reason, tenant.churn_note = reason, note
            kind, action, when = "tenant.churned", "tenant.churn", at
            summary = "Churned" + (f": {label}" if label else " (reason not recorded yet)")
        elif reason and (reason, note) != (tenant.churn_reason, tenant.churn_note):
            tenant.churn_reason, tenant.churn_note = reason, note
            kind, action, when = "tenant.churn_reason", "tenant.churn_reason", now
            summary = f"Churn reason recorded: {label}"
        else:
            return tenant  # already churned, nothing new to say: a second tick is a no-op
        tenant.save(update_fields=["lifecycle_stage", "churned_at", "churn_reason", "churn_note", "updated_at"])
        _tenant_change_record(
            tenant=tenant,
            before=before,
            action=action,
            kind=kind,
            at=when,
            summary=summary + (f" — {note}" if note else ""),
            data={"reason": reason, "note": note, "churned_at": tenant.churned_at.isoformat()},
            after_extra={"churn_reason": reason, "churn_note": note},
            actor=actor,
            now=now,
        )
    return tenant


def tenant_reactivate(*, tenant: Tenant, at: datetime, why: str, actor: Actor, now: datetime) -> Tenant:
    """A churned tenant is a customer again (it subscribed anew): its lifecycle follows its
    age once more, and the churn is kept on the timeline and in the audit log, not on the row.
    A tenant that is not churned is left as it is (a second tick is a no-op)."""
    with transaction.atomic():
        # Row lock: the tick and a person recording a churn reason may act at once.
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if tenant.lifecycle_stage != Tenant.LifecycleStage.CHURNED:
            return tenant
        before = {**tenant_snapshot(tenant), "churn_reason": tenant.churn_reason, "churned_at": tenant.churned_at}
        tenant.lifecycle_stage = lifecycle_stage_for(signed_up_at=tenant.signed_up_at, now=now)
        tenant.churned_at, tenant.churn_reason, tenant.churn_note = None, "", ""
        tenant.save(update_fields=["lifecycle_stage", "churned_at", "churn_reason", "churn_note", "updated_at"])
        timeline_record(
            tenant=tenant,
            at=at,
            kind=TimelineKind.TENANT_REACTIVATED,
            summary=f"Back as a customer: {why}",
            data={"churned_at": before["churned_at"].isoformat() if before["churned_at"] else None},
        )
        audit_record(
            actor=actor,
            action=AuditAction.TENANT_REACTIVATE,
            target=tenant,
            tenant=tenant,
            at=now,
            before=before,
            after=tenant_snapshot(tenant),
        )
    return tenant


def tenants_close_onboarding_windows(*, now: datetime, batch_size: int = 200) -> int:
    """Moves tenants whose 30-day onboarding window has passed to the adoption stage."""
    moved = 0
    while True:
        with transaction.atomic():
            # SKIP LOCKED: a concurrent tick takes other tenants instead of the same ones; the
            # stage filter makes a second pass over an already moved tenant a no-op.
            batch = list(
                Tenant.objects.filter(
                    lifecycle_stage=Tenant.LifecycleStage.ONBOARDING,
                    signed_up_at__lte=now - ONBOARDING_WINDOW,
                )
                .select_for_update(skip_locked=True)
                .order_by("signed_up_at")[:batch_size]
            )
            for tenant in batch:
                tenant_advance_lifecycle(
                    tenant=tenant,
                    stage=Tenant.LifecycleStage.ADOPTION,
                    now=now,
                    reason="30-day onboarding window closed",
                )
        moved += len(batch)
        if len(batch) < batch_size:
            return moved


# --- users and memberships --------------------------------------------------------------------


def membership_create(*, tenant: Tenant, user: AbstractBaseUser, role: str, actor: Actor, now: datetime) -> Membership:
    with transaction.atomic():
        membership = Membership.objects.create(tenant=tenant, user=user, role=role)
        timeline_record(
            tenant=tenant,
            at=now,
            kind=TimelineKind.MEMBERSHIP_CREATED,
            summary=f"{user.get_username()} joined as {membership.get_role_display().lower()}",
        )
        audit_record(
            actor=actor,
            action=AuditAction.MEMBERSHIP_CREATE,
            target=membership,
            tenant=tenant,
            at=now,
            after={"user": user.get_username(), "role": role},
        )
    return membership


def staff_user_create(
    *, username: str, email: str, password: str, roles: list[str], actor: Actor, now: datetime
) -> AbstractBaseUser:
    unknown = sorted(set(roles) - set(StaffRole.values))
    if unknown:
        raise ValidationError({"roles": [f"Unknown staff role(s): {', '.join(unknown)}."]})
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.create_user(
            username=username,
            email=email,
            password=password,
            is_staff=StaffRole.ADMIN in roles,  # Django admin (/admin/) is for the admin role
        )
        user.groups.set(Group.objects.filter(name__in=roles))
        audit_record(actor=actor, action=AuditAction.STAFF_CREATE, target=user, at=now, after={"roles": sorted(roles)})
    return user


# --- API keys ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    plaintext: str  # shown once, never stored


def api_key_hash(secret: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is safe here (no dictionary to guess).
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, name: str, scope: str, tenant: Tenant | None, actor: Actor, now: datetime) -> IssuedApiKey:
    if not name.strip():
        raise ValidationError({"name": ["name must not be blank."]})
    if scope not in ApiKey.Scope.values:
        raise ValidationError({"scope": [f"scope must be one of {', '.join(ApiKey.Scope.values)}."]})
    prefix = secrets.token_hex(4)
    plaintext = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            name=name.strip(),
            prefix=prefix,
            key_hash=api_key_hash(plaintext),
            scope=scope,
            tenant=tenant,
            created_at=now,
            created_by=actor if isinstance(actor, get_user_model()) else None,
        )
        audit_record(
            actor=actor,
            action=AuditAction.API_KEY_CREATE,
            target=api_key,
            tenant=tenant,
            at=now,
            after={"name": api_key.name, "scope": scope},
        )
    return IssuedApiKey(api_key=api_key, plaintext=plaintext)


def api_key_revoke(*, api_key: ApiKey, actor: Actor, now: datetime) -> ApiKey:
    if api_key.revoked_at is not None:
        return api_key  # revoking twice is a no-op, not an error
    with transaction.atomic():
        api_key.revoked_at = now
        api_key.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action=AuditAction.API_KEY_REVOKE, target=api_key, tenant=api_key.tenant, at=now)
    return api_key
