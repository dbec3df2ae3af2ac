"""Audit entries written before the channel secrets were masked in full (the webhook URL in clear, the second half of
the routing key and gateway token) are masked as new entries are, `https://hooks.slack.com/…f00d`. One way: the
secrets are not put back."""

from django.db import migrations

from portal.notifications.secrets import MASK, mask_secret

SECRET_FIELDS = frozenset({"webhook_url", "routing_key", "auth_token"})


def masked(value):
    if not isinstance(value, str) or "…" in value or value in ("", MASK):
        return value
    return mask_secret(value)


def mask_audit_entries(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    LogEntry = apps.get_model("auditlog", "LogEntry")
    channel = ContentType.objects.filter(app_label="notifications", model="channel").first()
    if channel is None:
        return
    for entry in LogEntry.objects.filter(content_type=channel).only("changes").iterator():
        if not isinstance(entry.changes, dict) or SECRET_FIELDS.isdisjoint(entry.changes):
            continue
        changes = {
            name: [masked(value) for value in values] if name in SECRET_FIELDS and isinstance(values, list) else values
            for name, values in entry.changes.items()
        }
        if changes != entry.changes:
            LogEntry.objects.filter(pk=entry.pk).update(changes=changes)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0003_encrypt_secrets"),
        ("auditlog", "0017_add_actor_email"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(mask_audit_entries, migrations.RunPython.noop)]
