# The escalation models moved here from playbooks (issue 14). Their tables keep their names
# (playbooks_alertrule, playbooks_alert, playbooks_alertnotification): this migration only
# tells Django's state that they now belong to alerts, and moves their content types so admin
# history and permissions follow them. playbooks 0007 removes them from playbooks' state.

import django.db.models.deletion
import django.db.models.manager
from django.conf import settings
from django.db import migrations, models

MOVED = ("alertrule", "alert", "alertnotification")


def content_types_follow(apps, schema_editor) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not content_type.objects.filter(app_label="alerts", model=model).exists():
            content_type.objects.filter(app_label="playbooks", model=model).update(app_label="alerts")


def content_types_return(apps, schema_editor) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="alerts", model__in=MOVED).update(app_label="playbooks")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("playbooks", "0006_step_variant_and_decisions"),
        ("tenants", "0008_jobheartbeat_moves_to_core"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AlertRule",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("slug", models.SlugField(max_length=64, unique=True)),
                        ("enabled", models.BooleanField(default=True)),
                        (
                            "severity",
                            models.CharField(
                                choices=[
                                    ("P1", "P1 – urgent"),
                                    ("P2", "P2 – high"),
                                    ("P3", "P3 – normal"),
                                    ("info", "Info"),
                                ],
                                max_length=4,
                            ),
                        ),
                        (
                            "route",
                            models.CharField(
                                choices=[("csm", "CSM"), ("cs_lead", "CS lead"), ("billing_ops", "Billing ops")],
                                max_length=20,
                            ),
                        ),
                        ("params", models.JSONField(blank=True, default=dict)),
                        ("updated_at", models.DateTimeField()),
                        ("last_evaluated_at", models.DateTimeField(blank=True, null=True)),
                        ("last_result", models.CharField(blank=True, max_length=300)),
                        (
                            "updated_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "playbooks_alertrule",
                        "ordering": ["slug"],
                    },
                ),
                migrations.CreateModel(
                    name="Alert",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "severity",
                            models.CharField(
                                choices=[
                                    ("P1", "P1 – urgent"),
                                    ("P2", "P2 – high"),
                                    ("P3", "P3 – normal"),
                                    ("info", "Info"),
                                ],
                                max_length=4,
                            ),
                        ),
                        (
                            "route",
                            models.CharField(
                                choices=[("csm", "CSM"), ("cs_lead", "CS lead"), ("billing_ops", "Billing ops")],
                                help_text="The role queue it waits in.",
                                max_length=20,
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("open", "Open"),
                                    ("acknowledged", "Acknowledged"),
                                    ("snoozed", "Snoozed"),
                                    ("resolved", "Resolved"),
                                ],
                                default="open",
                                max_length=12,
                            ),
                        ),
                        ("rationale", models.CharField(help_text="Why it opened, in words.", max_length=500)),
                        ("facts", models.JSONField(blank=True, default=dict, help_text="The values that opened it.")),
                        ("opened_at", models.DateTimeField()),
                        (
                            "sla_due_at",
                            models.DateTimeField(
                                blank=True, help_text="Acknowledge by; none for info alerts.", null=True
                            ),
                        ),
                        ("sla_breached_at", models.DateTimeField(blank=True, null=True)),
                        ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                        ("snoozed_until", models.DateTimeField(blank=True, null=True)),
                        ("resolved_at", models.DateTimeField(blank=True, null=True)),
                        ("resolution", models.CharField(blank=True, max_length=500)),
                        (
                            "notified",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("push", "Pushed"),
                                    ("digest", "Held for the digest (attention budget)"),
                                    ("none", "Nobody to notify"),
                                ],
                                max_length=8,
                            ),
                        ),
                        ("rearm_pending", models.BooleanField(default=False)),
                        (
                            "acknowledged_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "assignee",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="cs_alerts",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "resolved_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant"
                            ),
                        ),
                        (
                            "rule",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="alerts",
                                to="alerts.alertrule",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "playbooks_alert",
                        "abstract": False,
                        "default_manager_name": "all_tenants",
                    },
                    managers=[
                        ("all_tenants", django.db.models.manager.Manager()),
                    ],
                ),
                migrations.CreateModel(
                    name="AlertNotification",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("dedupe_key", models.CharField(max_length=200, unique=True)),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("push", "Alert opened"),
                                    ("escalation", "SLA breached"),
                                    ("digest", "Daily digest"),
                                    ("weekly", "Weekly digest"),
                                ],
                                max_length=10,
                            ),
                        ),
                        (
                            "channel",
                            models.CharField(choices=[("email", "Email"), ("webhook", "Webhook")], max_length=8),
                        ),
                        ("recipient", models.CharField(help_text="Email address or webhook URL.", max_length=500)),
                        ("subject", models.CharField(max_length=300)),
                        ("body", models.TextField()),
                        ("payload", models.JSONField(blank=True, default=dict, help_text="Webhooks: the JSON posted.")),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("scheduled", "Scheduled"),
                                    ("sending", "Sending"),
                                    ("sent", "Sent"),
                                    ("failed", "Failed"),
                                    ("needs_review", "Needs review"),
                                    ("skipped", "Skipped (nothing to say)"),
                                ],
                                default="scheduled",
                                max_length=12,
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("created_at", models.DateTimeField()),
                        ("due_at", models.DateTimeField()),
                        ("claimed_at", models.DateTimeField(blank=True, null=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("provider_id", models.CharField(blank=True, max_length=200)),
                        ("reason", models.CharField(blank=True, max_length=500)),
                        (
                            "alert",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to="alerts.alert",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "playbooks_alertnotification",
                        "indexes": [
                            models.Index(
                                condition=models.Q(("status", "scheduled")),
                                fields=["due_at"],
                                name="alert_notification_due",
                            ),
                            models.Index(
                                condition=models.Q(("status", "sending")),
                                fields=["claimed_at"],
                                name="alert_notification_sending",
                            ),
                            models.Index(fields=["user", "created_at"], name="alert_notification_user"),
                        ],
                    },
                ),
                migrations.AddIndex(
                    model_name="alert",
                    index=models.Index(fields=["rule", "status"], name="alert_rule_status"),
                ),
                migrations.AddIndex(
                    model_name="alert",
                    index=models.Index(
                        condition=models.Q(("status", "open")), fields=["sla_due_at"], name="alert_sla_open"
                    ),
                ),
                migrations.AddIndex(
                    model_name="alert",
                    index=models.Index(fields=["tenant", "-opened_at"], name="alert_tenant_opened"),
                ),
                migrations.AddIndex(
                    model_name="alert",
                    index=models.Index(fields=["opened_at"], name="alert_opened"),
                ),
                migrations.AddIndex(
                    model_name="alert",
                    index=models.Index(
                        condition=models.Q(("rearm_pending", True)), fields=["rule"], name="alert_rearm_pending"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="alert",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("status__in", ("open", "acknowledged", "snoozed"))),
                        fields=("tenant", "rule"),
                        name="alert_one_open_per_rule",
                    ),
                ),
            ],
        ),
        migrations.RunPython(content_types_follow, content_types_return),
    ]
