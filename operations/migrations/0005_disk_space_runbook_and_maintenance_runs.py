"""A procedure run names the maintenance it is run for (emergency maintenance starts its procedure), and the disk
alerts get a runbook: DiskSpaceCritical (the manual: > 95% for 5 min, DevOps) and HighDiskUsage (the guide: > 70%
warning, > 90% critical) were the only catalogue alerts without one.

The seeds give disk usage thresholds and the weekly 'Check disk usage trends', not steps: the runbook's steps are the
seeds' own commands (resource usage, database size and VACUUM ANALYZE, logs, cordon and drain).
"""

from datetime import date

import django.db.models.deletion
from django.db import migrations, models

NS = "broxiva-production"
ALERTS = ["DiskSpaceCritical", "HighDiskUsage"]
RUNBOOK = {
    "slug": "disk-space", "title": "Disk space",
    "when": "Disk usage above 70% (warning), 90% (the guide's critical) or 95% for 5 min (DiskSpaceCritical)",
    "owner_team": "DevOps Team", "last_reviewed_on": date(2026, 1, 5),
    "body": f"""The guide warns above 70% and calls 90% critical (HighDiskUsage); the manual's DiskSpaceCritical
fires above 95% for 5 minutes and belongs to DevOps. Both alerts open an incident with this runbook.

1. Find the filesystem: the alert's `instance` and `mountpoint` labels name the node and the disk.
   See what runs there and how busy it is:
   ```bash
   kubectl top nodes
   kubectl get pods -n {NS} -o wide
   ```
2. The database's volume: check its size (the *PostgreSQL database size* look), then reclaim dead rows
   with `VACUUM ANALYZE` (a cluster action; in production inside a maintenance window or as an emergency).
3. Logs: a pod that writes too much fills its node's disk. Read what it writes
   (`kubectl logs <pod-name> -n {NS} --tail=100 --timestamps`) and stop the noise at its source.
4. A node whose disk cannot be freed soon: cordon and drain it so its pods move elsewhere, then replace or
   resize its disk (see *Node failure*).
5. Afterwards: grow the volume if the trend says so. The weekly task 'Check disk usage trends' and the monthly
   capacity planning review follow it up.
""",
}  # fmt: skip
ACTIONS = [
    {"label": "Cordon the node", "kind": "cordon"},
    {"label": "Drain the node", "kind": "drain"},
]


def seed(apps, schema_editor):
    Runbook = apps.get_model("operations", "Runbook")
    RunbookAlert = apps.get_model("operations", "RunbookAlert")
    QuickAction = apps.get_model("operations", "QuickAction")
    AlertRule = apps.get_model("operations", "AlertRule")
    runbook, created = Runbook.objects.get_or_create(slug=RUNBOOK["slug"], defaults=RUNBOOK)
    if created:
        RunbookAlert.objects.bulk_create(RunbookAlert(runbook=runbook, alertname=name) for name in ALERTS)
        QuickAction.objects.bulk_create(
            QuickAction(runbook=runbook, position=position, **action) for position, action in enumerate(ACTIONS)
        )
    # Only rows still without a runbook: an Admin's choice stays.
    for rule in AlertRule.objects.filter(name__in=ALERTS, runbook__isnull=True):
        rule.runbook = runbook
        rule.save(update_fields=["runbook"])


class Migration(migrations.Migration):
    dependencies = [
        ("maintenance", "0003_freeze_passes"),
        ("operations", "0004_alert_catalogue_and_procedures"),
    ]

    operations = [
        migrations.AddField(
            model_name="procedurerun",
            name="maintenance",
            field=models.ForeignKey(
                blank=True,
                help_text="The emergency maintenance it is run for.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="procedure_runs",
                to="maintenance.maintenanceoccurrence",
            ),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
