"""Chat and paging both ways: routing rules match event kinds as well as severities, the Slack app and PagerDuty
webhook subscriptions (secrets encrypted), received events kept for replays, and Slack root messages per source.

The seeds' channel table: #incidents takes P1-P3 incidents' declaration, status updates and resolution (P1/P2 are
critical, P3 a warning), #alerts every alert-intake summary, #maintenance every notice and start/completion,
#security-incidents data-breach and active-attack flags, #devops deployments and cluster actions. The severity
channels keep what they had: their rules list the event kinds that existed before, so the new kinds (status updates,
intake summaries, deployments...) do not page anyone. New channels start disabled until given a webhook URL or the
Slack app's bot token.
"""

import django.db.models.deletion
from django.db import migrations, models

import portal.core.fields
from portal.accounts.migration_helpers import grant_permissions

EARLIER_KINDS = [
    "incident.opened", "incident.updated", "incident.resolved", "incident.escalated", "maintenance.scheduled",
    "maintenance.rescheduled", "maintenance.cancelled", "maintenance.started", "maintenance.completed", "slo.burn",
    "slo.burn_ended", "approval.requested", "reminder", "oncall.reminder", "oncall.handoff", "oncall.swap", "test",
]  # fmt: skip
CHANNELS = [
    ("Slack #alerts", "#alerts", "Alert intake summaries"),
    ("Slack #security-incidents", "#security-incidents", "Data breaches and active attacks"),
    ("Slack #devops", "#devops", "Deployments and cluster actions"),
]
INCIDENT_KINDS = ["incident.opened", "incident.status_update", "incident.resolved"]
MAINTENANCE_KINDS = [
    "maintenance.scheduled", "maintenance.rescheduled", "maintenance.cancelled", "maintenance.started",
    "maintenance.completed",
]  # fmt: skip
ROUTES = [
    # severity ("" any), channel, event kinds
    ("critical", "Slack #incidents", INCIDENT_KINDS),
    ("warning", "Slack #incidents", INCIDENT_KINDS),
    ("", "Slack #alerts", ["alert.received"]),
    ("", "Slack #maintenance", MAINTENANCE_KINDS),
    ("", "Slack #security-incidents", ["incident.security_flag"]),
    ("", "Slack #devops", ["deployment", "cluster.action"]),
]
ADMIN_GRANTS = [
    f"notifications.{action}_{model}"
    for model in ("slackapp", "pagerdutywebhook")
    for action in ("view", "add", "change", "delete")
] + ["notifications.view_inboundevent"]


def seed(apps, schema_editor):
    Channel = apps.get_model("notifications", "Channel")
    RoutingRule = apps.get_model("notifications", "RoutingRule")
    for rule in RoutingRule.objects.exclude(severity=""):
        if not rule.event_kinds:
            rule.event_kinds = EARLIER_KINDS
            rule.save(update_fields=["event_kinds"])
    for name, chat_channel, description in CHANNELS:
        Channel.objects.get_or_create(
            name=name,
            defaults={"kind": "chat", "chat_channel": chat_channel, "description": description, "enabled": False},
        )
    for severity, name, kinds in ROUTES:
        channel = Channel.objects.filter(name=name).first()
        if channel is not None:
            RoutingRule.objects.get_or_create(severity=severity, channel=channel, defaults={"event_kinds": kinds})
    grant_permissions(apps, {"Admin": ADMIN_GRANTS})


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0005_delivery_list_indexes"),
        ("accounts", "0002_seed_role_groups"),
    ]

    operations = [
        migrations.CreateModel(
            name="PagerDutyWebhook",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
                ("enabled", models.BooleanField(default=True)),
                (
                    "secret",
                    portal.core.fields.EncryptedCharField(
                        help_text="The subscription's signing secret, shown once by PagerDuty.", max_length=128
                    ),
                ),
                (
                    "api_token",
                    portal.core.fields.EncryptedCharField(
                        blank=True,
                        help_text="A read-only REST API key: looks up the email of who acknowledged.",
                        max_length=200,
                    ),
                ),
                ("api_url", models.URLField(default="https://api.pagerduty.com", help_text="PagerDuty's REST API.")),
            ],
            options={
                "ordering": ["name"],
                "verbose_name": "PagerDuty webhook",
            },
        ),
        migrations.CreateModel(
            name="SlackApp",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
                ("enabled", models.BooleanField(default=True)),
                (
                    "signing_secret",
                    portal.core.fields.EncryptedCharField(
                        help_text="Basic Information > App Credentials.", max_length=128
                    ),
                ),
                (
                    "bot_token",
                    portal.core.fields.EncryptedCharField(
                        blank=True, help_text="OAuth & Permissions: xoxb-…; optional.", max_length=200
                    ),
                ),
                ("api_url", models.URLField(default="https://slack.com/api/", help_text="Slack's Web API.")),
            ],
            options={
                "ordering": ["pk"],
                "verbose_name": "Slack app",
            },
        ),
        migrations.AddField(
            model_name="routingrule",
            name="event_kinds",
            field=models.JSONField(blank=True, default=list, help_text="Event kinds to send; none: every kind."),
        ),
        migrations.AlterField(
            model_name="notification",
            name="event_kind",
            field=models.CharField(
                choices=[
                    ("incident.opened", "Incident opened"),
                    ("incident.updated", "Incident updated"),
                    ("incident.resolved", "Incident resolved"),
                    ("incident.escalated", "Incident escalated"),
                    ("incident.status_update", "Incident status update"),
                    ("incident.severity_changed", "Incident severity changed"),
                    ("incident.security_flag", "Incident flagged: data breach or active attack"),
                    ("alert.received", "Alerts received"),
                    ("maintenance.scheduled", "Maintenance scheduled"),
                    ("maintenance.rescheduled", "Maintenance rescheduled"),
                    ("maintenance.cancelled", "Maintenance cancelled"),
                    ("maintenance.started", "Maintenance started"),
                    ("maintenance.completed", "Maintenance completed"),
                    ("slo.burn", "SLO burning its error budget"),
                    ("slo.burn_ended", "SLO burn ended"),
                    ("approval.requested", "Approval requested"),
                    ("deployment", "Deployment"),
                    ("cluster.action", "Cluster action finished"),
                    ("reminder", "Reminder"),
                    ("oncall.reminder", "On-call shift reminder"),
                    ("oncall.handoff", "On-call handoff"),
                    ("oncall.swap", "On-call swap"),
                    ("test", "Test message"),
                ],
                max_length=40,
            ),
        ),
        migrations.AlterField(
            model_name="routingrule",
            name="severity",
            field=models.CharField(
                blank=True,
                choices=[("critical", "Critical"), ("warning", "Warning"), ("info", "Info")],
                help_text="Empty: any severity.",
                max_length=10,
            ),
        ),
        migrations.CreateModel(
            name="InboundEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("source", models.CharField(max_length=20)),
                ("event_id", models.CharField(max_length=200)),
                ("event_type", models.CharField(max_length=100)),
                ("payload", models.JSONField(default=dict)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("received", "Received"),
                            ("done", "Done"),
                            ("ignored", "Ignored"),
                            ("failed", "Failed"),
                        ],
                        default="received",
                        max_length=10,
                    ),
                ),
                ("result", models.CharField(blank=True, max_length=500)),
                ("received_at", models.DateTimeField()),
            ],
            options={
                "ordering": ["-received_at"],
                "constraints": [models.UniqueConstraint(fields=("source", "event_id"), name="uniq_inbound_event")],
            },
        ),
        migrations.CreateModel(
            name="ChatThread",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("source", models.CharField(max_length=100)),
                (
                    "slack_channel",
                    models.CharField(help_text="Slack's channel id, as chat.postMessage answered.", max_length=40),
                ),
                ("ts", models.CharField(help_text="The root message's timestamp (its id).", max_length=40)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "channel",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="notifications.channel"
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("source", "channel"), name="uniq_chat_thread")],
            },
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
