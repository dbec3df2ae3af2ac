from django.db import migrations

from portal.accounts.migration_helpers import grant_permissions

ROLE_GRANTS = {
    "Viewer": [],
    "Responder": [],
    "Incident Commander": [],
    "Admin": [
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "accounts.view_apitoken",
        "accounts.add_apitoken",
        "accounts.change_apitoken",
        "auth.view_group",
        "auth.change_group",
        "auditlog.view_logentry",
    ],
}


def create_role_groups(apps, schema_editor):
    grant_permissions(apps, ROLE_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auditlog", "0017_add_actor_email"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
