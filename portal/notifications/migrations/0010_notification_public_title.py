from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0009_notification_dedup_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="public_title",
            field=models.CharField(
                blank=True,
                help_text="The title status-page subscribers read (no internal reference or severity); empty: not "
                "public.",
                max_length=200,
            ),
        ),
    ]
