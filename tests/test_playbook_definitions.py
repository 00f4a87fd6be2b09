"""Playbooks are data: the built-in library and the seeds' Markdown load, loading twice
changes nothing, a changed file is a new version (runs keep theirs), and a file with an error
is refused whole with its line and the reason."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from playbooks.definitions import DefinitionError, parse, to_yaml
from playbooks.library import LIBRARY_DIR, playbooks_load
from playbooks.models import Playbook, PlaybookVersion, Run, Step

pytestmark = pytest.mark.django_db
SEED_003 = Path(__file__).resolve().parent / "fixtures" / "seeds" / "003_04bb9cff131bd7df.txt"
MINIMAL = """slug: check-in
name: Check-in
trigger: manual
steps:
  - key: hello
    day: 2
    channel: email
    subject: Hello {{ owner_first_name }}
    body: How is {{ tenant_name }} doing?
"""


def load(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    out = StringIO()
    call_command("load_playbooks", str(path), stdout=out)
    return out.getvalue()


def test_the_built_in_library_is_installed_with_the_contract_slugs():
    slugs = set(Playbook.objects.values_list("slug", flat=True))
    assert {"onboarding-30", "dunning", "at-risk-recovery", "expansion", "trial-conversion"} <= slugs
    onboarding = Playbook.objects.get(slug="onboarding-30").current
    days = sorted({s.day for s in onboarding.steps.all()})
    assert days == [0, 3, 7, 14, 30]
    channels = {s.key: s.channel for s in onboarding.steps.all()}
    assert channels["welcome-email"] == "email" and channels["welcome-sms"] == "sms"
    assert channels["calibration-call"] == "task" and channels["value-review"] == "email"
    assert "{{ survey_url }}" in onboarding.steps.get(key="value-review").body


def test_loading_the_library_twice_changes_nothing():
    before = PlaybookVersion.objects.count()
    out = StringIO()
    call_command("load_playbooks", stdout=out)
    assert PlaybookVersion.objects.count() == before
    assert "onboarding-30: unchanged (v1), 12 step(s)" in out.getvalue()


def test_seed_003_imports_as_is_with_its_day_sections_and_owners():
    out = StringIO()
    call_command("load_playbooks", str(SEED_003), stdout=out)

    assert "customer-onboarding: new version v1, 19 step(s)" in out.getvalue()
    version = Playbook.objects.get(slug="customer-onboarding").current
    assert version.name == "Customer Onboarding" and version.trigger == "signup"
    sections = list(dict.fromkeys(version.steps.values_list("section", flat=True)))
    assert sections == [
        "Day 1: Welcome & Setup",
        "Day 2–3: Technical Setup",
        "Day 7: First Check-in",
        "Day 14: Check-in #2",
        "Day 30: First Month Review",
    ]
    assert set(version.steps.values_list("channel", flat=True)) == {"task"}
    kickoff = version.steps.get(key="day-1-schedule-kickoff-call-within-48-hours")
    assert kickoff.day == 0 and kickoff.due_in_hours == 2  # "Within 2 hours of signup"
    assert kickoff.owner_name == "Alex Chen"  # "System (Automated) + [[Alex Chen]] (kickoff scheduling)"
    review = version.steps.get(key="day-7-review-usage-metrics")
    assert review.owner_name == "Jamie Patel" and review.day == 7
    assert "- Logins: Daily? Weekly?" in review.body  # the sub-items travel with the task
    assert not any("[[" in s.subject or "[[" in s.body for s in version.steps.all())  # wiki links stripped


def test_a_changed_file_is_a_new_version_and_running_tenants_keep_theirs(tmp_path, tenant_a):
    load(tmp_path, "check-in.yaml", MINIMAL)
    playbook = Playbook.objects.get(slug="check-in")
    run = Run.objects.create(
        tenant=tenant_a,
        playbook=playbook,
        version=playbook.current,
        enrolment_key="manual:1",
        trigger="manual",
        anchor=timezone.now(),
        started_at=timezone.now(),
    )

    output = load(tmp_path, "check-in.yaml", MINIMAL.replace("How is", "How's"))

    assert "check-in: new version v2" in output
    playbook.refresh_from_db()
    assert playbook.current.number == 2
    run.refresh_from_db()
    assert run.version.number == 1  # pinned
    assert load(tmp_path, "check-in.yaml", MINIMAL.replace("How is", "How's")).startswith("check-in: unchanged (v2)")


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (("Hello {{ owner_first_name }}", "Hello {{ first_name }}"), 8, "unknown variable {{ first_name }}"),
        (("Hello {{ owner_first_name }}", "Hello {{ owner_first_name }"), 8, "unbalanced"),
        (("Hello {{ owner_first_name }}", "Hello {% if x %}"), 8, "template tags are not supported"),
        (("channel: email", "channel: fax"), 5, "channel “fax” is not one of"),
        (("trigger: manual", "trigger: sometimes"), 3, "trigger “sometimes” is not one of"),
        (("    day: 2\n", "    day: 2\n    when: [usage_level == extreme]\n"), 5, "usage_level is never “extreme”"),
        (("    day: 2\n", "    day: 2\n    when: [health_score > lots]\n"), 5, "health_score is a number"),
        (("    day: 2\n", "    day: -1\n"), 5, "day must be a whole number from 0 to 365"),
        (("name: Check-in\n", "name: Check-in\nname: Again\n"), 3, "“name” appears twice"),
        (("steps:", "stepz:"), 4, "unknown field(s): stepz"),
    ],
)
def test_a_file_with_an_error_is_rejected_whole_with_line_and_reason(tmp_path, change, line, reason):
    (tmp_path / "good.yaml").write_text(MINIMAL.replace("check-in", "good-one"))
    (tmp_path / "bad.yaml").write_text(MINIMAL.replace(*change))
    before = PlaybookVersion.objects.count()

    with pytest.raises(CommandError) as error:
        call_command("load_playbooks", str(tmp_path), stdout=StringIO())

    assert f"bad.yaml, line {line}: " in str(error.value), str(error.value)
    assert reason in str(error.value)
    assert PlaybookVersion.objects.count() == before  # not even the good file


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://evil.example.com/hook", "is not on the allow-list"),
        ("http://hooks.slack.com/services/T/B/X", "must be an https:// URL"),
        ("https://10.0.0.5/hook", "private or reserved address"),
        ("https://169.254.169.254/latest", "private or reserved address"),
    ],
)
def test_a_webhook_to_a_private_address_or_an_unlisted_host_is_refused(url, reason):
    text = MINIMAL.replace("channel: email", f"channel: webhook\n    webhook_url: {url}")
    with pytest.raises(DefinitionError, match=reason):
        parse(text, source="hook.yaml")


def test_every_playbook_exports_to_yaml_that_loads_back_to_the_same_definition():
    for playbook in Playbook.objects.select_related("current"):
        definition = playbook.current.definition
        assert parse(to_yaml(definition), source="export.yaml") == definition, playbook.slug


def test_unknown_path_is_a_clear_error():
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("load_playbooks", "/nonexistent/playbooks", stdout=StringIO())


def test_the_library_folder_only_holds_valid_playbooks():
    results = playbooks_load(paths=[LIBRARY_DIR], now=timezone.now())
    assert all(not r.created for r in results)  # identical to what migrate installed
    assert Step.objects.filter(version__playbook__slug="dunning", channel="sms").count() == 3


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (MINIMAL + "extra: &a [*a]\n", "anchors and aliases"),
        (MINIMAL.replace("slug: check-in", "? [a, b]\n: x\nslug: check-in"), "a key must be a plain word"),
        (MINIMAL.replace("    day: 2\n", "    day: 2\n    transactional: 'false'\n"), "transactional is true or false"),
        (MINIMAL.replace("    day: 2\n", "    day: true\n"), "day must be a whole number"),
        (MINIMAL.replace("Hello {{ owner_first_name }}", "x" * 301), "subject is at most 300 characters"),
        (MINIMAL.replace("    day: 2\n", "    day: 2\n    when: [{fact: [1], op: '==', value: 1}]\n"), "Unknown fact"),
        (MINIMAL.replace("    day: 2\n", "    day: 2\n    when: [health_score < 1e400]\n"), "ordinary number"),
        ("- just\n- a list\n", "a playbook is a mapping"),
    ],
)
def test_odd_yaml_is_a_clear_error_never_a_crash(text, reason):
    with pytest.raises(DefinitionError, match=reason):
        parse(text, source="odd.yaml")
