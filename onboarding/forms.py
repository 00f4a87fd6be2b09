from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password

from tenants.models import Tenant
from tenants.validators import available_timezones, validate_e164_phone

from .models import Milestone
from .steps import STEP_FORMS

BUSINESS_TYPES = ["Home services", "Dental clinics", "Law firms", "Real estate", "Salons & spas", "Auto repair"]


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
    plan = forms.ChoiceField(choices=Tenant.Plan.choices, initial=Tenant.Plan.STARTER, widget=forms.RadioSelect)
    business_type = forms.ChoiceField(
        choices=[(b, b) for b in BUSINESS_TYPES] + [("", "Something else")], required=False, label="Business type"
    )
    timezone = forms.ChoiceField(
        label="Time zone", initial="UTC", help_text="We guessed it from your browser; change it if it is wrong."
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [(tz, tz) for tz in sorted(available_timezones())]

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
        errors["step"] = f"A wizard milestone needs the step the owner fills in: one of {', '.join(STEP_FORMS)}."
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
    step = forms.ChoiceField(choices=[("", "—")] + [(k, k) for k in STEP_FORMS], required=False)
    event_name = forms.RegexField(
        regex=r"^(\*|[a-z][a-z0-9_.]{0,63})$",
        required=False,
        error_messages={"invalid": "An event name like call.handled, or * for any event."},
    )
    is_first_value = forms.BooleanField(required=False)

    def clean(self) -> dict:
        data = super().clean()
        for field, message in milestone_config_errors(data).items():
            self.add_error(field, message)
        if data.get("completion") != Milestone.Completion.WIZARD:
            data["step"] = ""
        if data.get("completion") != Milestone.Completion.EVENT:
            data["event_name"] = ""
        return data


MilestoneFormSet = forms.formset_factory(MilestoneEditForm, extra=1, can_delete=True, max_num=30, validate_max=True)


class TemplateEditForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
