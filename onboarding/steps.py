"""The wizard's step forms, by key. A milestone template names a step for each wizard
milestone; what the owner enters is stored on the milestone's progress and shown to the CSM."""

from __future__ import annotations

from django import forms
from django.core.validators import URLValidator
from django.forms.utils import pretty_name

from tenants.validators import validate_e164_phone


class ConnectCalendarForm(forms.Form):
    provider = forms.ChoiceField(
        choices=[
            ("google", "Google Calendar"),
            ("outlook", "Microsoft Outlook / 365"),
            ("ical", "Another calendar (iCal link)"),
        ],
        widget=forms.RadioSelect,
    )
    calendar_address = forms.CharField(
        max_length=300,
        label="Calendar address",
        help_text="The calendar's email address (Google, Outlook) or its https:// iCal link.",
    )

    def clean(self) -> dict:
        data = super().clean()
        provider, address = data.get("provider"), (data.get("calendar_address") or "").strip()
        if provider == "ical":
            try:
                URLValidator(schemes=["https"])(address)
            except forms.ValidationError:
                self.add_error(
                    "calendar_address", "An iCal link starts with https://, e.g. https://example.com/cal.ics."
                )
        elif provider and address and "@" not in address:
            self.add_error("calendar_address", "Enter the calendar's email address, e.g. bookings@yourcompany.com.")
        return data


class ProvisionNumberForm(forms.Form):
    country = forms.ChoiceField(
        choices=[
            ("US", "United States"),
            ("CA", "Canada"),
            ("GB", "United Kingdom"),
            ("DE", "Germany"),
            ("AU", "Australia"),
        ]
    )
    area_code = forms.RegexField(
        regex=r"^\d{2,5}$",
        required=False,
        label="Preferred area code",
        error_messages={"invalid": "An area code is 2 to 5 digits, e.g. 415."},
    )
    forward_to = forms.CharField(
        required=False,
        max_length=20,
        label="Forward unanswered calls to",
        help_text="Your existing business line in E.164 format, e.g. +14155550123 (optional).",
        validators=[validate_e164_phone],
    )


class TunePromptForm(forms.Form):
    business_description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        min_length=40,
        max_length=2000,
        label="What your business does",
        help_text="Services, service area, opening hours, how bookings work. At least 40 characters.",
    )
    greeting = forms.CharField(
        max_length=200,
        label="How the assistant answers",
        help_text="e.g. “Thanks for calling Harbor HVAC, how can I help?”",
    )


class InviteTeammateForm(forms.Form):
    email = forms.EmailField(label="Teammate's email")

    def __init__(self, *args: object, owner_email: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.owner_email = owner_email.lower()

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if email == self.owner_email:
            raise forms.ValidationError("That is your own address; invite someone else on your team.")
        return email


# Keys referenced by Milestone.step. "verify_email" has no form: it completes from the
# signed link in the verification email.
STEP_FORMS: dict[str, type[forms.Form] | None] = {
    "verify_email": None,
    "connect_calendar": ConnectCalendarForm,
    "provision_number": ProvisionNumberForm,
    "tune_prompt": TunePromptForm,
    "invite_teammate": InviteTeammateForm,
}
# Each step as staff pick it for a wizard milestone (the key is what the milestone stores).
STEP_LABELS: dict[str, str] = {
    "verify_email": "Verify email (by the emailed link)",
    "connect_calendar": "Connect a calendar",
    "provision_number": "Get a phone number",
    "tune_prompt": "Tune the AI assistant",
    "invite_teammate": "Invite a teammate",
}


def answers(step: str, data: dict[str, object]) -> list[tuple[str, str]]:
    """What the owner entered, the way the form asked for it: each field's label (“Calendar
    address”, not the stored key) and a choice's label (“Google Calendar”, not “google”).
    Keys no form knows (an older form, a milestone without one) read as their words."""
    form_class = STEP_FORMS.get(step)
    fields = form_class.base_fields if form_class else {}
    rows = []
    for key, value in data.items():
        field = fields.get(key)
        label = str(field.label) if field is not None and field.label else pretty_name(key)
        choices = dict(getattr(field, "choices", None) or ())
        rows.append((label, str(choices.get(value, value))))
    return rows
