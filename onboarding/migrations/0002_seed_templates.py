"""The two milestone templates from the seeds. Reversible."""

from django.db import migrations
from django.utils import timezone

TEMPLATES = [
    {
        "slug": "generic-saas",
        "name": "Generic SaaS",
        "is_default": True,
        "description": "Verify, invite, integrate, send data, reach first value (CS operating system, seed 002).",
        "milestones": [
            (
                "verify_email",
                "Verify your email",
                "Click the link we emailed you.",
                True,
                0,
                "wizard",
                "verify_email",
                "",
                False,
            ),
            (
                "invite_teammate",
                "Invite a teammate",
                "Products stick when a team uses them.",
                False,
                3,
                "wizard",
                "invite_teammate",
                "",
                False,
            ),
            (
                "connect_integration",
                "Connect an integration",
                "Connect the tool your team already works in.",
                True,
                3,
                "event",
                "",
                "integration.connected",
                False,
            ),
            (
                "send_first_event",
                "Send your first event",
                "Post one event to the API with your ingest key.",
                True,
                3,
                "event",
                "",
                "*",
                False,
            ),
            (
                "first_value",
                "Reach first value",
                "Your CSM confirms the first outcome you set out to get.",
                True,
                14,
                "staff",
                "",
                "",
                True,
            ),
        ],
    },
    {
        "slug": "voice-receptionist",
        "name": "Voice receptionist",
        "is_default": False,
        "segments": ["Home services", "Dental clinics", "Law firms", "Real estate", "Salons & spas", "Auto repair"],
        "description": "CloudGreet Day 0: calendar, number, AI prompt, live test call (seed 000).",
        "milestones": [
            (
                "verify_email",
                "Verify your email",
                "Click the link we emailed you.",
                True,
                0,
                "wizard",
                "verify_email",
                "",
                False,
            ),
            (
                "connect_calendar",
                "Connect your calendar",
                "So the assistant can book appointments.",
                True,
                0,
                "wizard",
                "connect_calendar",
                "",
                False,
            ),
            (
                "provision_number",
                "Get your phone number",
                "The number your callers will reach.",
                True,
                0,
                "wizard",
                "provision_number",
                "",
                False,
            ),
            (
                "tune_prompt",
                "Tune your AI assistant",
                "Tell the assistant about your business.",
                True,
                1,
                "wizard",
                "tune_prompt",
                "",
                False,
            ),
            (
                "live_test_call",
                "Run a live test call",
                "Call your new number; the call shows up here when it is handled.",
                True,
                3,
                "event",
                "",
                "call.handled",
                True,
            ),
        ],
    },
]


def create(apps, schema_editor):
    Template = apps.get_model("onboarding", "OnboardingTemplate")
    Milestone = apps.get_model("onboarding", "Milestone")
    now = timezone.now()
    for spec in TEMPLATES:
        if Template.objects.filter(slug=spec["slug"]).exists():
            continue
        template = Template.objects.create(
            slug=spec["slug"],
            version=1,
            name=spec["name"],
            description=spec["description"],
            is_default=spec["is_default"],
            segments=spec.get("segments", []),
            is_current=True,
            created_at=now,
        )
        for position, (key, title, help_text, required, day, completion, step, event, first_value) in enumerate(
            spec["milestones"], start=1
        ):
            Milestone.objects.create(
                template=template,
                position=position,
                key=key,
                title=title,
                help_text=help_text,
                required=required,
                expected_by_day=day,
                completion=completion,
                step=step,
                event_name=event,
                is_first_value=first_value,
            )


def delete(apps, schema_editor):
    apps.get_model("onboarding", "OnboardingTemplate").objects.filter(
        slug__in=[t["slug"] for t in TEMPLATES], version=1
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("onboarding", "0001_initial")]

    operations = [migrations.RunPython(create, delete)]
