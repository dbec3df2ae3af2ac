"""On PostgreSQL, the database itself refuses overlapping overrides on one rotation layer.

An exclusion constraint needs PostgreSQL (GiST over a time range, `btree_gist` for the equality parts), so it is
created here only there and is not part of the model state; the override services check overlaps on every database.
"""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """ALTER TABLE oncall_override ADD CONSTRAINT override_no_overlap
       EXCLUDE USING gist (rotation_id WITH =, layer WITH =, tstzrange(start, "end", '[)') WITH &&)""",
]
DROP = "ALTER TABLE oncall_override DROP CONSTRAINT IF EXISTS override_no_overlap;"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("oncall", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
