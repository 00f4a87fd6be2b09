"""The default health model, v1, published. Its blend comes from the seeds: stickiness and
breadth of use (Castor, CS strategy: usage 60 %), week-over-week trend (CS OS: drop >= 20 %
is at risk), support load and sentiment (CS strategy: engagement 30 %), error rate (CS OS:
error budget < 2 %). Onboarding and billing signals join when those apps land."""

from django.db import migrations
from django.utils import timezone

DEFAULT_COMPONENTS = [
    {"key": "active_days", "weight": 30, "points": [[0, 0], [1, 30], [3, 60], [5, 100]]},
    {"key": "feature_breadth", "weight": 20, "points": [[0, 0], [1, 25], [3, 70], [5, 100]]},
    {"key": "usage_trend", "weight": 15, "points": [[-50, 0], [-20, 50], [0, 85], [10, 100]]},
    {"key": "support_load", "weight": 15, "points": [[0, 100], [1, 80], [3, 50], [5, 20], [8, 0]]},
    {"key": "sentiment", "weight": 10, "points": [[0, 0], [6, 40], [7, 70], [9, 100]]},
    {"key": "error_rate", "weight": 10, "points": [[0, 100], [2, 80], [5, 40], [10, 0]]},
]


def create_default_model(apps, schema_editor):
    HealthModel = apps.get_model("health", "HealthModel")
    if not HealthModel.objects.exists():
        now = timezone.now()
        HealthModel.objects.create(
            version=1,
            name="Seeded blend",
            status="published",
            healthy_min=80,
            at_risk_min=60,
            components=DEFAULT_COMPONENTS,
            created_at=now,
            published_at=now,
            notes="Default weights from the CS playbooks (seeds 001, 002, 004).",
        )


def delete_default_model(apps, schema_editor):
    apps.get_model("health", "HealthModel").objects.filter(version=1, name="Seeded blend").delete()


class Migration(migrations.Migration):
    dependencies = [("health", "0001_initial")]

    operations = [migrations.RunPython(create_default_model, delete_default_model)]
