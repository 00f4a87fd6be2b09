from __future__ import annotations

from functools import cache

from django import forms
from django.contrib.auth.password_validation import validate_password

from tenants.models import Tenant
from tenants.plans import plan_price_label
from tenants.selectors import tenant_by_referral_code
from tenants.validators import available_timezones, validate_e164_phone

from .models import Milestone
from .steps import STEP_FORMS, STEP_LABELS

BUSINESS_TYPES = ["Home services", "Dental clinics", "Law firms", "Real estate", "Salons & spas", "Auto repair"]

# Offered first, in this order: where most of the businesses that sign up are. UTC stays for
# the one who wants it (and is where a form starts when the browser gives no zone).
COMMON_TIMEZONES = [
    ("America/New_York", "Eastern Time (US & Canada)"),
    ("America/Chicago", "Central Time (US & Canada)"),
    ("America/Denver", "Mountain Time (US & Canada)"),
    ("America/Phoenix", "Arizona"),
    ("America/Los_Angeles", "Pacific Time (US & Canada)"),
    ("America/Anchorage", "Alaska"),
    ("Pacific/Honolulu", "Hawaii"),
    ("America/Halifax", "Atlantic Time (Canada)"),
    ("Europe/London", "United Kingdom, Ireland"),
    ("Europe/Berlin", "Central Europe"),
    ("Australia/Sydney", "Sydney, Melbourne"),
    ("UTC", "Coordinated Universal Time"),
]
# The regions of the IANA database: a zone outside them (Factory, localtime, EST5EDT, Etc/GMT+5,
# the old US/Eastern aliases) names no place a business is in.
GEOGRAPHIC_AREAS = frozenset(
    {"Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}
)


@cache  # the zone database does not change while the process runs
def timezone_options() -> tuple[tuple[str, str], ...]:
    """(zone, label) for the signup list: the common ones first, then every Area/City zone A–Z."""
    common = [zone for zone, _ in COMMON_TIMEZONES]
    places = sorted(
        zone
        for zone in available_timezones()
        if "/" in zone and zone.split("/", 1)[0] in GEOGRAPHIC_AREAS and zone not in common
    )
    return tuple(COMMON_TIMEZONES) + tuple((zone, "") for zone in places)


class SignupForm(forms.Form):
    company_name = forms.CharField(max_length=200, label="Company name")
    owner_name = forms.CharField(max_length=200, label="Your name")
    email = forms.EmailField(label="Work email")
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False)
    phone = forms.CharField(
        max_length=20,
        required=False,
        label="Mobile phone (optional)",
        validators=[validate_e164_phone],
        help_text="In E.164 format, e.g. +14155550123. For onboarding reminders by SMS.",
    )
    sms_consent = forms.BooleanField(required=False, label="Text me onboarding reminders (reply STOP to opt out)")
    plan = forms.ChoiceField(
        choices=[(plan, f"{label} · {plan_price_label(plan)}") for plan, label in Tenant.Plan.choices],
        initial=Tenant.Plan.STARTER,
        widget=forms.RadioSelect,
    )
    business_type = forms.ChoiceField(
        choices=[(b, b) for b in BUSINESS_TYPES] + [("", "Something else")], required=False, label="Business type"
    )
    # A text box with a <datalist> (signup.html): the browser filters the list as one types, so
    # "Chicago" finds America/Chicago; clean_timezone keeps the answer to a name on the list.
    timezone = forms.CharField(
        label="Time zone",
        initial="UTC",
        max_length=64,
        widget=forms.TextInput(attrs={"list": "timezone-options", "autocomplete": "off", "spellcheck": "false"}),
        help_text="We guessed it from your browser; type a city to change it.",
    )

    referral_code = forms.CharField(
        max_length=20,
        required=False,
        label="Referral code (optional)",
        help_text="From a friend's link: you both get a month free once you are a paying customer.",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.timezone_options = timezone_options()

    def clean_referral_code(self) -> Tenant | None:
        """The referring tenant (None without a code); a code nobody has is said, not dropped."""
        code = self.cleaned_data["referral_code"]
        if not code.strip():
            return None
        referrer = tenant_by_referral_code(code=code)
        if referrer is None:
            raise forms.ValidationError(
                f"“{code.strip()[:20]}” is not a referral code we know: check the link you followed, or leave it empty."
            )
        return referrer

    def clean_timezone(self) -> str:
        zone = self.cleaned_data["timezone"].strip()
        if zone not in {z for z, _ in self.timezone_options}:
            raise forms.ValidationError(
                f"“{zone}” is not a time zone on the list: type your city and pick it, e.g. America/Chicago."
            )
        return zone

    def clean_company_name(self) -> str:
        name = self.cleaned_data["company_name"].strip()
        if not name:
            raise forms.ValidationError("Enter your company's name.")
        return name

    def clean_owner_name(self) -> str:
        name = self.cleaned_data["owner_name"].strip()
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name

    def clean(self) -> dict:
        data = super().clean()
        if data.get("phone") and not data.get("sms_consent"):
            self.add_error("sms_consent", "Tick this to get SMS reminders, or leave the phone number empty.")
        password = data.get("password")
        if password:
            try:
                validate_password(password)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return data


class JoinForm(forms.Form):
    name = forms.CharField(max_length=200, label="Your name")
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        validate_password(password)
        return password


# What a person may set on a milestone (the cockpit editor and Django admin alike).
MILESTONE_FIELDS = [
    "key",
    "title",
    "help_text",
    "required",
    "expected_by_day",
    "completion",
    "step",
    "event_name",
    "is_first_value",
]


def milestone_config_errors(data: dict) -> dict[str, str]:
    """How a milestone's completion settings are inconsistent, by field."""
    errors = {}
    completion = data.get("completion")
    if completion == Milestone.Completion.WIZARD and data.get("step") not in STEP_FORMS:
        steps = ", ".join(STEP_LABELS.values())
        errors["step"] = f"A wizard milestone needs the step the owner fills in: one of {steps}."
    if completion == Milestone.Completion.EVENT and not data.get("event_name"):
        errors["event_name"] = "An event milestone needs the event name (or * for any event)."
    return errors


class MilestoneEditForm(forms.Form):
    """One milestone row in the cockpit's template editor."""

    key = forms.SlugField(max_length=50)
    title = forms.CharField(max_length=120)
    help_text = forms.CharField(max_length=500, required=False)
    required = forms.BooleanField(required=False)
    expected_by_day = forms.IntegerField(min_value=0, max_value=365)
    completion = forms.ChoiceField(choices=Milestone.Completion.choices)
    step = forms.ChoiceField(choices=[("", "—"), *STEP_LABELS.items()], required=False)
    event_name = forms.RegexField(
        regex=r"^(\*|[a-z][a-z0-9_.]{0,63})$",
        required=False,
        error_messages={"invalid": "An event name like call.handled, or * for any event."},
    )
    is_first_value = forms.BooleanField(required=False)

    # The editor is a table: a column heading says what each cell is, but a screen reader
    # reading one field needs its own name, with the row it is in.
    LABELS = {
        "key": "Key",
        "title": "Title",
        "help_text": "Help for the owner",
        "required": "Required",
        "expected_by_day": "Expected by day",
        "completion": "Completes by",
        "step": "Wizard step",
        "event_name": "Event name",
        "is_first_value": "First value",
    }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        row = (self.prefix or "").rsplit("-", 1)[-1]
        number = int(row) + 1 if row.isdigit() else None
        for name, field in self.fields.items():
            label = self.LABELS.get(name, name)
            field.widget.attrs.setdefault("aria-label", f"{label}, milestone {number}" if number else label)

    def clean(self) -> dict:
        data = super().clean()
        for field, message in milestone_config_errors(data).items():
            self.add_error(field, message)
        if data.get("completion") != Milestone.Completion.WIZARD:
            data["step"] = ""
        if data.get("completion") != Milestone.Completion.EVENT:
            data["event_name"] = ""
        return data


class _MilestoneRows(forms.BaseFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:  # added by the formset, after the form's own __init__
            row = f", milestone {index + 1}" if index is not None else ""
            form.fields["DELETE"].widget.attrs["aria-label"] = f"Remove{row}"


MilestoneFormSet = forms.formset_factory(
    MilestoneEditForm, formset=_MilestoneRows, extra=1, can_delete=True, max_num=30, validate_max=True
)


class TemplateEditForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
