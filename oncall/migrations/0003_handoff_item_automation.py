"""Handoff items the portal ticks itself: "Test PagerDuty notifications" once a test page reached the incoming person,
"Transfer PagerDuty responsibility" at the incoming person's first acknowledgement. Items already open are marked."""

import django.db.models.deletion
from django.db import migrations, models

AUTOMATED = {"Test PagerDuty notifications": "test_page", "Transfer PagerDuty responsibility": "pager_transfer"}


def mark(apps, schema_editor):
    HandoffItem = apps.get_model("oncall", "HandoffItem")
    for text, automation in AUTOMATED.items():
        for item in HandoffItem.objects.filter(text=text, automation=""):
            item.automation = automation
            item.save(update_fields=["automation"])


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("oncall", "0002_seed_platform_rotation"),
    ]

    operations = [
        migrations.AddField(
            model_name="handoffitem",
            name="automation",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "None"),
                    ("test_page", "Ticked when a test page reaches the incoming person"),
                    ("pager_transfer", "Ticked at the incoming person's first acknowledgement"),
                ],
                default="",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="handoffitem",
            name="test_page",
            field=models.ForeignKey(
                blank=True,
                help_text="The last test page sent for this item.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="notifications.notification",
            ),
        ),
        migrations.RunPython(mark, migrations.RunPython.noop),
    ]
