from django.http import HttpRequest

from tenants.roles import staff_roles_of


def cockpit(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    roles = staff_roles_of(user) if user is not None else frozenset()
    return {
        "staff_roles": roles,
        "is_cockpit_staff": bool(roles),
        "is_billing_staff": bool(roles & {"billing_ops", "admin"}),
    }
