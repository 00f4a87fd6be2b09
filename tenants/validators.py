"""Field validators whose messages name the problem and the fix."""

import re
import zoneinfo
from functools import cache

import phonenumbers
from django.core.exceptions import ValidationError

EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


@cache
def available_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_id(value: str | None) -> int | None:
    """A database id from a query string, or None: ASCII digits only ("²".isdigit() is True),
    and small enough for any integer column."""
    if not value or not value.isascii() or not value.isdecimal() or len(value) > 12:
        return None
    return int(value)


def validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(
            f"“{value}” is not an IANA time zone name; use one like “Europe/Berlin” or “America/New_York”.",
            code="invalid_timezone",
        )


def validate_e164_phone(value: str) -> None:
    if not value:
        return
    message = f"“{value}” is not a valid phone number in E.164 format, e.g. +14155550123."
    if not value.startswith("+"):
        raise ValidationError(message, code="invalid_phone")
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(message, code="invalid_phone") from exc
    if (
        not phonenumbers.is_valid_number(parsed)
        or phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) != value
    ):
        raise ValidationError(message, code="invalid_phone")


def validate_external_id(value: str) -> None:
    if not EXTERNAL_ID_RE.match(value):
        raise ValidationError(
            "external_id must be 1–64 characters: letters, digits and _ . : -, starting with a letter or digit.",
            code="invalid_external_id",
        )
