"""The audit log's order (newest first, id breaking ties) as one index, on django-auditlog's table (not our model,
hence SQL). The default order is then read from the index instead of sorting the table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_audit_append_only"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS core_logentry_timestamp_id_idx ON auditlog_logentry (timestamp DESC, id DESC)",
            reverse_sql="DROP INDEX IF EXISTS core_logentry_timestamp_id_idx",
        )
    ]
