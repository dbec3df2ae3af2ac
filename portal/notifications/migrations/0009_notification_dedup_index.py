from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0008_owner_team_routing"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(fields=["dedup_key", "pager_action"], name="notification_dedup_idx"),
        ),
    ]
