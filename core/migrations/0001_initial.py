# JobHeartbeat moved here from tenants with the tick registry. The table (tenants_jobheartbeat)
# stays where it is: this only tells Django's state that the model now belongs to core, and
# moves its content type so admin history and permissions follow it.

from django.db import migrations, models


def content_type_follows(apps, schema_editor) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="core", model="jobheartbeat").exists():
        content_type.objects.filter(app_label="tenants", model="jobheartbeat").update(app_label="core")


def content_type_returns(apps, schema_editor) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="core", model="jobheartbeat").update(app_label="tenants")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("tenants", "0007_tenant_imported_at"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="JobHeartbeat",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=100, unique=True)),
                        (
                            "last_now",
                            models.DateTimeField(
                                help_text="The `now` the job ran as of (differs from wall time for --at)."
                            ),
                        ),
                        ("last_started_at", models.DateTimeField()),
                        ("last_finished_at", models.DateTimeField(blank=True, null=True)),
                        ("last_summary", models.CharField(blank=True, max_length=500)),
                        ("last_error", models.TextField(blank=True)),
                    ],
                    options={"db_table": "tenants_jobheartbeat"},
                ),
            ],
        ),
        migrations.RunPython(content_type_follows, content_type_returns),
    ]
