import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0010_alert_and_status_page_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(fields=["incident", "alertname"], name="alert_incident_name_idx"),
        ),
        # The new index begins with the incident; only the old one goes. Django's AlterField would also drop and
        # re-add (and so re-validate) the foreign key.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="alert",
                    name="incident",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="alerts",
                        to="incidents.incident",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "incidents_alert_incident_id_de5c827a"',
                    reverse_sql='CREATE INDEX "incidents_alert_incident_id_de5c827a" ON "incidents_alert" ("incident_id")',
                ),
            ],
        ),
    ]
