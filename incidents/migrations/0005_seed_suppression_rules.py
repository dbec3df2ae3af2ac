"""The operations guide's alert suppression rules, as data Admins can edit.

Each source side requires the `equal` labels to be set: as in Alertmanager, labels missing on both alerts compare
equal, and a ServiceDown without a service label must not silence every HighLatency that has none either.
"""

from django.db import migrations

from portal.accounts.migration_helpers import grant_permissions

RULES = [
    {
        "name": "ServiceDown suppresses HighLatency",
        "description": "A service that is down is slow too: page for the outage, not for its latency.",
        "source_matchers": ['alertname="ServiceDown"', 'service=~".+"'],
        "target_matchers": ['alertname="HighLatency"'],
        "equal": ["service"],
    },
    {
        "name": "NodeNotReady suppresses pod alerts on that node",
        "description": "Pods on a node that is not ready fail with it. A pod alert is any alert with a pod label.",
        "source_matchers": ['alertname=~"NodeNotReady|KubeNodeNotReady"', 'node=~".+"'],
        "target_matchers": ['pod=~".+"'],
        "equal": ["node"],
    },
    {
        "name": "Critical suppresses the same warning",
        "description": "A critical alert silences the warning of the same alert on the same service.",
        "source_matchers": ['severity="critical"', 'service=~".+"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["alertname", "service"],
    },
]
ROLE_GRANTS = {
    "Viewer": ["incidents.view_alert", "incidents.view_suppressionrule"],
    "Admin": [
        "incidents.add_integration",
        "incidents.change_integration",
        "incidents.view_integration",
        "incidents.add_suppressionrule",
        "incidents.change_suppressionrule",
        "incidents.delete_suppressionrule",
    ],
}


def seed(apps, schema_editor):
    SuppressionRule = apps.get_model("incidents", "SuppressionRule")
    for rule in RULES:
        SuppressionRule.objects.get_or_create(name=rule["name"], defaults=rule)
    grant_permissions(apps, ROLE_GRANTS)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_alert_intake")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
