"""P1-P4 from the operations manual's severity table (it wins where the two seeds differ)."""

from django.db import migrations

from portal.accounts.migration_helpers import grant_permissions

SEVERITIES = [
    # code, name, rank, description, examples, response min, response business days, resolution min, update min,
    # notification severity, review required
    ("P1", "Critical", 1, "Production down, data loss, security breach", "Complete outage, data breach",
     5, None, 60, 15, "critical", True),
    ("P2", "High", 2, "Major degradation, >10% users affected", "Checkout broken, auth failing",
     15, None, 4 * 60, 30, "critical", True),
    ("P3", "Medium", 3, "Non-critical feature down, workaround exists", "Single feature degraded",
     60, None, 24 * 60, 120, "warning", False),
    ("P4", "Low", 4, "Cosmetic issues, minimal impact", "UI issues, minor bugs",
     None, 1, 7 * 24 * 60, None, "info", False),
]  # fmt: skip
MODELS = ["incident", "statusupdate", "timelineevent", "postincidentreview", "actionitem", "service", "severity"]
ROLE_GRANTS = {
    "Viewer": [f"incidents.view_{model}" for model in MODELS],
    "Responder": ["incidents.add_incident", "incidents.add_statusupdate", "incidents.add_timelineevent"],
    "Incident Commander": [
        "incidents.change_incident",
        "incidents.change_postincidentreview",
        "incidents.add_actionitem",
        "incidents.change_actionitem",
    ],
    "Admin": [f"incidents.{action}_{model}" for model in ("service", "severity") for action in ("add", "change")],
}


def seed(apps, schema_editor):
    Severity = apps.get_model("incidents", "Severity")
    for (
        code,
        name,
        rank,
        description,
        examples,
        response,
        business_days,
        resolution,
        update,
        notify,
        review,
    ) in SEVERITIES:
        Severity.objects.get_or_create(
            code=code,
            defaults={
                "name": name, "rank": rank, "description": description, "examples": examples,
                "response_minutes": response, "response_business_days": business_days,
                "resolution_minutes": resolution, "update_minutes": update,
                "notification_severity": notify, "review_required": review,
            },
        )  # fmt: skip
    grant_permissions(apps, ROLE_GRANTS)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_incidents_timeline_reviews"),
                    ("accounts", "0002_role_groups")]  # fmt: skip

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
