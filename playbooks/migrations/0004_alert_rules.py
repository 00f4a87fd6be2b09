"""The built-in escalation rules' rows, with their defaults (the tick's rules_sync adds rules
that arrive later; this one makes them editable before the first tick)."""

from django.db import migrations
from django.utils import timezone


def create(apps, schema_editor) -> None:
    from alerts.rules import RULES

    AlertRule = apps.get_model("playbooks", "AlertRule")
    existing = set(AlertRule.objects.values_list("slug", flat=True))
    AlertRule.objects.bulk_create(
        AlertRule(
            slug=spec.slug,
            enabled=True,
            severity=spec.severity,
            route=spec.route,
            params=dict(spec.defaults),
            updated_at=timezone.now(),
        )
        for spec in RULES.values()
        if spec.slug not in existing
    )


class Migration(migrations.Migration):
    dependencies = [("playbooks", "0003_alerts")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
