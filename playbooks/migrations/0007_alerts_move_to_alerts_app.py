# The escalation models now belong to alerts (alerts 0001 took them over in Django's state);
# their tables stay.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("playbooks", "0006_step_variant_and_decisions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(
                    model_name="alert",
                    name="alert_rule_status",
                ),
                migrations.RemoveIndex(
                    model_name="alert",
                    name="alert_sla_open",
                ),
                migrations.RemoveIndex(
                    model_name="alert",
                    name="alert_tenant_opened",
                ),
                migrations.RemoveIndex(
                    model_name="alert",
                    name="alert_opened",
                ),
                migrations.RemoveIndex(
                    model_name="alert",
                    name="alert_rearm_pending",
                ),
                migrations.RemoveConstraint(
                    model_name="alert",
                    name="alert_one_open_per_rule",
                ),
                migrations.RemoveIndex(
                    model_name="alertnotification",
                    name="alert_notification_due",
                ),
                migrations.RemoveIndex(
                    model_name="alertnotification",
                    name="alert_notification_sending",
                ),
                migrations.RemoveIndex(
                    model_name="alertnotification",
                    name="alert_notification_user",
                ),
                migrations.RemoveField(
                    model_name="alert",
                    name="acknowledged_by",
                ),
                migrations.RemoveField(
                    model_name="alert",
                    name="assignee",
                ),
                migrations.RemoveField(
                    model_name="alert",
                    name="resolved_by",
                ),
                migrations.RemoveField(
                    model_name="alert",
                    name="rule",
                ),
                migrations.RemoveField(
                    model_name="alert",
                    name="tenant",
                ),
                migrations.RemoveField(
                    model_name="alertnotification",
                    name="alert",
                ),
                migrations.RemoveField(
                    model_name="alertnotification",
                    name="user",
                ),
                migrations.DeleteModel(
                    name="AlertRule",
                ),
                migrations.DeleteModel(
                    name="Alert",
                ),
                migrations.DeleteModel(
                    name="AlertNotification",
                ),
            ],
        ),
    ]
