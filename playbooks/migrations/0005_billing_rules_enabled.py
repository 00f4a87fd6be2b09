"""subscription_past_due and expansion_signal were created disabled (billing did not exist, so
they could not run, and nobody could enable them). Billing brings their facts: enable them."""

from django.db import migrations

BILLING_RULES = ["subscription_past_due", "expansion_signal"]


def enable(apps, schema_editor) -> None:
    AlertRule = apps.get_model("playbooks", "AlertRule")
    # Nobody can have disabled them on purpose: enabling was refused until now.
    AlertRule.objects.filter(slug__in=BILLING_RULES, enabled=False, updated_by__isnull=True).update(enabled=True)


class Migration(migrations.Migration):
    dependencies = [("playbooks", "0004_alert_rules"), ("billing", "0001_initial")]
    operations = [migrations.RunPython(enable, migrations.RunPython.noop)]
