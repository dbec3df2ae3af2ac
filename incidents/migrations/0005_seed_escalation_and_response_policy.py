"""The seeds' on-call response times and escalation matrix.

Response (acknowledge) targets, business hours vs after hours and weekends: P1/P2 5 min / 15 min; P3/P4 1 h / the
next business day. Escalation: L1 the primary on-call; L2 platform lead for P1/P2 or unresolved after 30 min; L3
engineering manager / CTO for P1 or unresolved after 1 h; L4 executives by hand (business impact, legal concerns).
"""

from django.db import migrations

RESPONSE = {"P1": (5, None, 15, None), "P2": (5, None, 15, None), "P3": (60, None, None, 1), "P4": (60, None, None, 1)}
GROUPS = ["Platform Leads", "Engineering Managers", "Executives"]
LEVELS = [
    # level, name, target, group, immediate for rank <=, after minutes, manual only
    (1, "On-call engineer", "oncall_primary", None, 4, None, False),
    (2, "Platform lead", "group", "Platform Leads", 2, 30, False),
    (3, "Engineering manager / CTO", "group", "Engineering Managers", 1, 60, False),
    (4, "Executives", "group", "Executives", None, None, True),
]


def seed(apps, schema_editor):
    Severity = apps.get_model("incidents", "Severity")
    Group = apps.get_model("auth", "Group")
    Policy = apps.get_model("incidents", "EscalationPolicy")
    Level = apps.get_model("incidents", "EscalationLevel")
    for code, (minutes, days, after_minutes, after_days) in RESPONSE.items():
        Severity.objects.filter(code=code).update(
            response_minutes=minutes,
            response_business_days=days,
            after_hours_response_minutes=after_minutes,
            after_hours_response_business_days=after_days,
        )
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


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_escalation"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
