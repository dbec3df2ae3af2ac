"""The seeds' rotation: weekly, Monday 09:00 to Monday 09:00 UTC, 24/7. Admins add its people (the demo does)."""

import datetime

from django.db import migrations

from portal.accounts.migration_helpers import grant_permissions

MODELS = ["rotation", "rotationversion", "participant", "override", "swap", "handoff", "handoffitem"]
# The Django admin only shows on-call data (changes go through the on-call pages and API): viewing is all it needs.
# Model permissions do not follow the role ranking (each group holds its own), so every role gets them.
ROLE_GRANTS = {
    role: [f"oncall.view_{model}" for model in MODELS]
    for role in ("Viewer", "Responder", "Incident Commander", "Admin")
}


def seed(apps, schema_editor):
    Rotation = apps.get_model("oncall", "Rotation")
    RotationVersion = apps.get_model("oncall", "RotationVersion")
    rotation, created = Rotation.objects.get_or_create(
        name="Platform on-call",
        defaults={"description": "Seeds: weekly rotation, Monday 9:00 AM to Monday 9:00 AM UTC, 24/7 including "
                                 "weekends and holidays; handoff at the Monday morning standup."},
    )  # fmt: skip
    if created:
        RotationVersion.objects.create(
            rotation=rotation,
            effective_from=datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC),
            timezone="UTC",
            handoff_rrule="FREQ=WEEKLY;BYDAY=MO",
            handoff_time=datetime.time(9),
            start_date=datetime.date(2026, 1, 5),
            note="Seeded from the operations manual",
        )
    grant_permissions(apps, ROLE_GRANTS)


class Migration(migrations.Migration):
    dependencies = [("oncall", "0001_initial"), ("accounts", "0002_seed_role_groups")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
