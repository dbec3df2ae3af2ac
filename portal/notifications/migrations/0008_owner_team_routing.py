"""Deliveries record the owner team they go to; each seeded team's Slack channel gets a chat channel (disabled
until an Admin gives it a webhook, or the Slack app's bot token posts), reached only through alert ownership."""

import django.db.models.deletion
from django.db import migrations, models


def seed(apps, schema_editor):
    Channel = apps.get_model("notifications", "Channel")
    Team = apps.get_model("contacts", "Team")
    for team in Team.objects.exclude(slack_channel="").order_by("position", "name"):
        Channel.objects.get_or_create(
            name=f"Slack {team.slack_channel}",
            defaults={
                "kind": "chat",
                "chat_channel": team.slack_channel,
                "enabled": False,
                "description": f"{team.name}: incidents opened by the alerts it owns (no routing rule needed)",
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0002_team_pagerduty_routing_key"),
        ("notifications", "0007_status_subscriptions"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="team",
            field=models.ForeignKey(
                blank=True,
                help_text="The owner team this goes to: its Slack channel, or its PagerDuty service instead of the "
                "channel's.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="contacts.team",
            ),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
