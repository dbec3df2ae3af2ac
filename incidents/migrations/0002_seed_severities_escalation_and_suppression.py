"""The seeds' severities, response times, escalation matrix and alert suppression rules.

Severities: P1-P4 from the operations manual's severity table (it wins where the two seeds differ).
Response (acknowledge) targets, business hours vs after hours and weekends: P1/P2 5 min / 15 min; P3/P4 1 h / the
next business day. Escalation: L1 the primary on-call; L2 platform lead for P1/P2 or unresolved after 30 min; L3
engineering manager / CTO for P1 or unresolved after 1 h; L4 executives by hand (business impact, legal concerns).
Suppression: the operations guide's rules, as data Admins can edit. Each source side requires the `equal` labels to
be set: as in Alertmanager, labels missing on both alerts compare equal, and a ServiceDown without a service label
must not silence every HighLatency that has none either.
"""

from django.db import migrations

from portal.accounts.migration_helpers import grant_permissions

SEVERITIES = [
    # code, name, rank, description, examples, response min, response business days, after-hours response min,
    # after-hours response business days, resolution min, update min, notification severity, review required
    ("P1", "Critical", 1, "Production down, data loss, security breach", "Complete outage, data breach",
     5, None, 15, None, 60, 15, "critical", True),
    ("P2", "High", 2, "Major degradation, >10% users affected", "Checkout broken, auth failing",
     5, None, 15, None, 4 * 60, 30, "critical", True),
    ("P3", "Medium", 3, "Non-critical feature down, workaround exists", "Single feature degraded",
     60, None, None, 1, 24 * 60, 120, "warning", False),
    ("P4", "Low", 4, "Cosmetic issues, minimal impact", "UI issues, minor bugs",
     60, None, None, 1, 7 * 24 * 60, None, "info", False),
]  # fmt: skip
GROUPS = ["Platform Leads", "Engineering Managers", "Executives"]
LEVELS = [
    # level, name, target, group, immediate for rank <=, after minutes, manual only
    (1, "On-call engineer", "oncall_primary", None, 4, None, False),
    (2, "Platform lead", "group", "Platform Leads", 2, 30, False),
    (3, "Engineering manager / CTO", "group", "Engineering Managers", 1, 60, False),
    (4, "Executives", "group", "Executives", None, None, True),
]
SUPPRESSION_RULES = [
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
MODELS = ["incident", "statusupdate", "timelineevent", "postincidentreview", "actionitem", "service", "severity"]
ROLE_GRANTS = {
    "Viewer": [f"incidents.view_{model}" for model in MODELS]
    + ["incidents.view_alert", "incidents.view_suppressionrule"],
    "Responder": ["incidents.add_incident", "incidents.add_statusupdate", "incidents.add_timelineevent"],
    "Incident Commander": [
        "incidents.change_incident",
        "incidents.change_postincidentreview",
        "incidents.add_actionitem",
        "incidents.change_actionitem",
    ],
    "Admin": [f"incidents.{action}_{model}" for model in ("service", "severity") for action in ("add", "change")]
    + [
        "incidents.add_integration",
        "incidents.change_integration",
        "incidents.view_integration",
        "incidents.add_suppressionrule",
        "incidents.change_suppressionrule",
        "incidents.delete_suppressionrule",
    ],
}


def seed(apps, schema_editor):
    Severity = apps.get_model("incidents", "Severity")
    Group = apps.get_model("auth", "Group")
    Policy = apps.get_model("incidents", "EscalationPolicy")
    Level = apps.get_model("incidents", "EscalationLevel")
    SuppressionRule = apps.get_model("incidents", "SuppressionRule")
    for (
        code,
        name,
        rank,
        description,
        examples,
        response,
        business_days,
        after_hours,
        after_hours_business_days,
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
                "after_hours_response_minutes": after_hours,
                "after_hours_response_business_days": after_hours_business_days,
                "resolution_minutes": resolution, "update_minutes": update,
                "notification_severity": notify, "review_required": review,
            },
        )  # fmt: skip
    grant_permissions(apps, ROLE_GRANTS)
    for name in GROUPS:
        Group.objects.get_or_create(name=name)
    policy, _ = Policy.objects.get_or_create(
        name="Escalation matrix", defaults={"is_default": True, "description": "From the operations manual."}
    )
    for level, name, target, group, immediate, after, manual in LEVELS:
        Level.objects.get_or_create(
            policy=policy,
            level=level,
            defaults={
                "name": name,
                "target": target,
                "group": Group.objects.get(name=group) if group else None,
                "immediate_max_rank": immediate,
                "after_minutes": after,
                "manual_only": manual,
            },
        )
    for rule in SUPPRESSION_RULES:
        SuppressionRule.objects.get_or_create(name=rule["name"], defaults=rule)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial"), ("accounts", "0002_seed_role_groups")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
