from django.conf import settings
from django.http import HttpRequest

from core.roles import abilities_of, staff_roles_of
from tenants.labels import role_label

STAFF_PRODUCT_NAME = "CS Cockpit"
STAFF_PATH_PREFIX = "/admin/"


def cockpit(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    roles = staff_roles_of(user) if user is not None else frozenset()
    # One product name per side: staff work in "CS Cockpit"; owners (and anyone signed out on
    # the login, signup and password pages they share) see the tenant-facing brand.
    staff_side = bool(roles) or request.path.startswith(STAFF_PATH_PREFIX)
    return {
        "staff_roles": roles,
        "staff_role_labels": [role_label(role) for role in sorted(roles)],
        "is_cockpit_staff": bool(roles),
        "may": abilities_of(user) if user is not None else {},
        "product_name": STAFF_PRODUCT_NAME if staff_side else settings.BRAND_NAME,
    }
