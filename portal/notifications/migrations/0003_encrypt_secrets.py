"""Channel secrets (chat webhook URL, pager routing key, SMS gateway token) are stored encrypted: the columns become
text, wide enough for the ciphertext, and the values already there are encrypted (decrypted again on the way back)."""

from django.db import migrations

import portal.core.fields
from portal.core.encryption import decrypted, reencrypted, rewrite_rows_or_fail


def encrypt(apps, schema_editor):
    rewrite_rows_or_fail(apps.get_model("notifications", "Channel"), reencrypted, using=schema_editor.connection.alias)


def decrypt(apps, schema_editor):
    rewrite_rows_or_fail(apps.get_model("notifications", "Channel"), decrypted, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_seed_channels_and_routing"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channel",
            name="auth_token",
            field=portal.core.fields.EncryptedCharField(
                blank=True, help_text="SMS: bearer token for the gateway.", max_length=200
            ),
        ),
        migrations.AlterField(
            model_name="channel",
            name="routing_key",
            field=portal.core.fields.EncryptedCharField(
                blank=True, help_text="Pager: the integration's routing key.", max_length=64
            ),
        ),
        migrations.AlterField(
            model_name="channel",
            name="webhook_url",
            field=portal.core.fields.EncryptedURLField(blank=True, help_text="Chat: the incoming-webhook URL."),
        ),
        migrations.RunPython(encrypt, decrypt),
    ]
