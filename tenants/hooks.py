"""What other apps add to a tenant's life without `tenants` (or a sibling) importing them.

`tenants` and the apps beside it (onboarding, billing) cannot import each other: imports
point one way. So, as with api_sections, an app registers its functions here from its
AppConfig.ready():

- **signup hooks** run inside the signup transaction, after the tenant and its owner exist
  (billing records the plan's free trial there). A hook that raises rolls the signup back:
  an account is created with everything it is promised, or not at all. Hooks must not call
  providers (Stripe, email): a slow provider would hold the transaction open — they record
  what is to happen, and a tick job does it.
- **time-zone hooks** run inside the transaction that changes a tenant's time zone
  (playbooks moves what is scheduled to the new zone's Day N and send window).
- **owner notices** are short lines with one action that an app wants the owner to see on
  their pages (billing: “Trial — 9 days left” with “Add a card”).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .models import Tenant

SignupHook = Callable[..., object]  # called as hook(tenant=..., now=...)
TimezoneHook = Callable[..., object]  # called as hook(tenant=..., previous=..., now=...)


@dataclass(frozen=True)
class OwnerNotice:
    key: str  # stable, for tests and CSS: "trial"
    text: str  # “Trial — 9 days left”
    detail: str = ""
    action_label: str = ""
    action_url: str = ""  # posted to (the action starts something: a Stripe session)
    tone: str = "info"  # info, warn, error


NoticeFunction = Callable[..., list[OwnerNotice]]  # called as f(tenant=..., now=...)

_signup_hooks: dict[str, SignupHook] = {}
_notice_functions: dict[str, NoticeFunction] = {}
_timezone_hooks: dict[str, TimezoneHook] = {}


def register_signup_hook(name: str, hook: SignupHook) -> None:
    _signup_hooks[name] = hook  # by name: a second ready() (tests, reloads) replaces, never doubles


def signup_hooks_run(*, tenant: Tenant, now: datetime) -> None:
    """Runs every registered signup hook, in registration order; call inside the signup's
    transaction."""
    for hook in _signup_hooks.values():
        hook(tenant=tenant, now=now)


def register_timezone_hook(name: str, hook: TimezoneHook) -> None:
    _timezone_hooks[name] = hook


def timezone_hooks_run(*, tenant: Tenant, previous: str, now: datetime) -> None:
    """Runs every registered time-zone hook; call inside the transaction that changed it."""
    for hook in _timezone_hooks.values():
        hook(tenant=tenant, previous=previous, now=now)


def register_owner_notices(name: str, function: NoticeFunction) -> None:
    _notice_functions[name] = function


def owner_notices(*, tenant: Tenant, now: datetime) -> list[OwnerNotice]:
    notices: list[OwnerNotice] = []
    for function in _notice_functions.values():
        notices.extend(function(tenant=tenant, now=now))
    return notices
