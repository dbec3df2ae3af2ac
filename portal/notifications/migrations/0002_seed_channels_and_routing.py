"""The seeds' alert routing: critical -> PagerDuty + Slack #critical + Email + SMS; warning -> Slack #warnings + Email;
info -> Slack #info. Channels that need a URL or key start disabled until an Admin configures them."""

from django.db import migrations

from portal.accounts.migration_helpers import grant_permissions

CHANNELS = [
    # name, kind, chat channel, description
    ("Email", "email", "", "Stakeholder and responder email over SMTP"),
    ("PagerDuty", "pager", "", "Pages the on-call engineer"),
    ("Slack #critical", "chat", "#critical", "Critical alerts"),
    ("Slack #warnings", "chat", "#warnings", "Warnings"),
    ("Slack #info", "chat", "#info", "Informational"),
    ("Slack #incidents", "chat", "#incidents", "Primary incident channel"),
    ("Slack #maintenance", "chat", "#maintenance", "Maintenance announcements"),
    ("SMS", "sms", "", "Text messages through the SMS gateway"),
]
ROUTES = {
    "critical": ["PagerDuty", "Slack #critical", "Email", "SMS"],
    "warning": ["Slack #warnings", "Email"],
    "info": ["Slack #info"],
}
CONFIG_MODELS = ["channel", "routingrule", "subscription"]
ROLE_GRANTS = {
    "Viewer": ["notifications.view_delivery", "notifications.view_notification"],
    "Responder": ["notifications.change_delivery"],
    "Admin": [
        f"notifications.{action}_{model}" for model in CONFIG_MODELS for action in ("view", "add", "change", "delete")
    ]
    + ["accounts.change_user"],
}


def seed(apps, schema_editor):
    Channel = apps.get_model("notifications", "Channel")
    RoutingRule = apps.get_model("notifications", "RoutingRule")
    for name, kind, chat_channel, description in CHANNELS:
        Channel.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "chat_channel": chat_channel,
                "description": description,
                "enabled": kind == "email",
                "endpoint_url": "https://events.pagerduty.com/v2/enqueue" if kind == "pager" else "",
            },
        )
    for severity, names in ROUTES.items():
        for name in names:
            RoutingRule.objects.get_or_create(severity=severity, channel=Channel.objects.get(name=name))
    grant_permissions(apps, ROLE_GRANTS)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial"), ("accounts", "0002_seed_role_groups")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
