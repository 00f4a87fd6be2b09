from django.http import HttpRequest

from core.roles import staff_roles_of

from .selectors import in_app_messages_for_user


def in_app_messages(request: HttpRequest) -> dict[str, object]:
    """Undismissed in-app messages for a signed-in tenant user (owners and members), on every
    page they see — the wizard included. Staff have none: one query for tenant users only."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or staff_roles_of(user):
        return {"in_app_messages": []}
    return {"in_app_messages": in_app_messages_for_user(user=user)}
