"""Creates the four staff-role groups. Reversible: removes them again."""

from django.db import migrations

STAFF_ROLE_GROUPS = ["csm", "cs_lead", "billing_ops", "admin"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in STAFF_ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=STAFF_ROLE_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_groups, delete_groups)]
