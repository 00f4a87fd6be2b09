# JobHeartbeat now belongs to core (core 0001 took it over in Django's state); its table stays.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("tenants", "0007_tenant_imported_at"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="JobHeartbeat")]),
    ]
