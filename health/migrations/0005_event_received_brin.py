"""A BRIN index on Event.received_at (PostgreSQL only): the system status page counts the
events received in the last hour. Events arrive in received_at order, so a block-range index
answers that from the newest ranges in a few kilobytes, and costs ingest next to nothing — a
B-tree would grow with every event and slow every insert. SQLite (development) goes without."""

from django.db import migrations

CREATE = "CREATE INDEX IF NOT EXISTS event_received_brin ON health_event USING brin (received_at)"
DROP = "DROP INDEX IF EXISTS event_received_brin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("health", "0004_model_warmup_new_bucket")]
    operations = [migrations.RunPython(create, drop)]
