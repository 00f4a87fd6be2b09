"""Who may see the cockpit: staff roles only. Anonymous users are sent to log in; a
signed-in tenant user gets 403 (they are known, and not staff)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from core.roles import ALL_STAFF_ROLES, Ability, StaffRole, has_staff_role, roles_for

View = Callable[..., HttpResponse]


def staff_required(ability: str = Ability.SEE_COCKPIT) -> Callable[[View], View]:
    """The view is for staff who have `ability` (core.roles.POLICY); anyone else signed in gets
    a 403 naming the roles that may."""
    roles = roles_for(ability)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_staff_role(request.user, roles):
                # Name who may: a CS lead sent here from a link knows whom to ask.
                if roles == ALL_STAFF_ROLES:
                    raise PermissionDenied("This page is for customer-success staff.")
                who = [StaffRole(role).label for role in StaffRole.values if role in roles]
                raise PermissionDenied(
                    f"This page is for {', '.join(who[:-1])} and {who[-1]}."
                    if len(who) > 1
                    else f"This page is for {who[0]}."
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
