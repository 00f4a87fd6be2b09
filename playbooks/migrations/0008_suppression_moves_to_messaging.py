# Suppression now belongs to messaging (messaging 0002 took it over in Django's state); its
# table stays.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0002_suppression"),
        ("playbooks", "0007_alerts_move_to_alerts_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="suppression",
                    name="suppression_once",
                ),
                migrations.DeleteModel(
                    name="Suppression",
                ),
            ],
        ),
    ]
