# Suppression moved here from playbooks (issue 14). Its table (playbooks_suppression) stays:
# this tells Django's state that the model now belongs to messaging and moves its content type
# so admin history and permissions follow it. playbooks 0008 removes it from playbooks' state.

from django.db import migrations, models


def content_type_follows(apps, schema_editor) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="messaging", model="suppression").exists():
        content_type.objects.filter(app_label="playbooks", model="suppression").update(app_label="messaging")


def content_type_returns(apps, schema_editor) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="messaging", model="suppression").update(app_label="playbooks")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("playbooks", "0007_alerts_move_to_alerts_app"),
        ("messaging", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Suppression",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("channel", models.CharField(choices=[("email", "Email"), ("sms", "SMS")], max_length=10)),
                        ("address", models.CharField(help_text="E.164 phone or lower-case email.", max_length=254)),
                        (
                            "reason",
                            models.CharField(
                                choices=[
                                    ("opted_out", "Opted out"),
                                    ("unsubscribed", "Unsubscribed"),
                                    ("invalid", "Invalid address"),
                                ],
                                max_length=15,
                            ),
                        ),
                        ("detail", models.CharField(blank=True, max_length=300)),
                        ("created_at", models.DateTimeField()),
                    ],
                    options={
                        "db_table": "playbooks_suppression",
                        "constraints": [
                            models.UniqueConstraint(fields=("channel", "address"), name="suppression_once")
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_type_follows, content_type_returns),
    ]
