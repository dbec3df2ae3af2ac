"""The seeds' maintenance windows and deployment freezes, as data.

Windows ("Maintenance Windows"): standard updates Tuesday 02:00-04:00 UTC weekly with 24 h notice; major upgrades
Sunday 02:00-06:00 UTC and database maintenance Sunday 03:00-05:00 UTC monthly with a week's notice, on the Sunday
the MAINTENANCE_MONTHLY_SUNDAY setting names (default: the first).
Freezes ("Deployment Freeze Periods"): Black Friday/Cyber Monday blocked from 3 days before through 1 day after; the
last 2 days of each quarter reduced; public holidays emergency-only. Their dates are computed per year.
"""

from datetime import date, time, timedelta

from django.conf import settings
from django.db import migrations

from portal.accounts.migration_helpers import grant_permissions

RULES_SINCE = date(2026, 1, 1)  # where the recurrence rules start counting, not a maintenance date


def windows() -> list[dict]:
    monthly = f"FREQ=MONTHLY;BYDAY={settings.MAINTENANCE_MONTHLY_SUNDAY}SU"
    return [
        {
            "name": "Standard updates",
            "rrule": "FREQ=WEEKLY;BYDAY=TU",
            "start_time": time(2),
            "duration": timedelta(hours=2),
            "notice_lead": timedelta(hours=24),
            "description": "Weekly standard updates.",
            "expected_impact": "Brief interruptions possible while services restart.",
        },
        {
            "name": "Major upgrades",
            "rrule": monthly,
            "start_time": time(2),
            "duration": timedelta(hours=4),
            "notice_lead": timedelta(weeks=1),
            "description": "Monthly major upgrades.",
            "expected_impact": "Services may be unavailable for part of the window.",
        },
        {
            "name": "Database maintenance",
            "rrule": monthly,
            "start_time": time(3),
            "duration": timedelta(hours=2),
            "notice_lead": timedelta(weeks=1),
            "description": "Monthly database maintenance (VACUUM, upgrades).",
            "expected_impact": "Writes may be paused; reads may be slower.",
        },
    ]


RULES = [
    {
        "name": "Black Friday / Cyber Monday",
        "kind": "black_friday",
        "level": "blocked",
        "days_before": 3,
        "days_after": 1,
        "reason": "No deployments from 3 days before Black Friday through 1 day after Cyber Monday.",
    },
    {
        "name": "End of quarter",
        "kind": "quarter_end",
        "level": "reduced",
        "days_before": 2,
        "reason": "Reduced deployments in the last 2 days of each quarter.",
    },
    {
        "name": "Major holidays",
        "kind": "holidays",
        "level": "emergency-only",
        "reason": "Emergency fixes only on public holidays.",
    },
]
GRANTS = {
    "Viewer": [
        f"maintenance.view_{model}"
        for model in ("maintenancewindow", "maintenanceoccurrence", "freezerule", "freezeexception")
    ],
    "Admin": [
        f"maintenance.{action}_{model}"
        for model in ("maintenancewindow", "freezerule")
        for action in ("add", "change", "delete")
    ],
}


def seed(apps, schema_editor):
    window_model = apps.get_model("maintenance", "MaintenanceWindow")
    rule_model = apps.get_model("maintenance", "FreezeRule")
    for fields in windows():
        window_model.objects.get_or_create(
            name=fields.pop("name"), defaults={"kind": "recurring", "dtstart": RULES_SINCE, "zone": "UTC", **fields}
        )
    for fields in RULES:
        rule_model.objects.get_or_create(name=fields.pop("name"), defaults={"environments": ["production"], **fields})
    grant_permissions(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("maintenance", "0001_initial"),
        ("accounts", "0002_seed_role_groups"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
