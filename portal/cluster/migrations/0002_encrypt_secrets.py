"""Data-store URLs, with their passwords, are stored encrypted: the column becomes text, wide enough for the
ciphertext, and the URLs already there are encrypted (decrypted again on the way back)."""

from django.db import migrations

import portal.core.fields
from portal.core.encryption import decrypted, reencrypted, rewrite_rows_or_fail


def encrypt(apps, schema_editor):
    rewrite_rows_or_fail(apps.get_model("cluster", "Target"), reencrypted, using=schema_editor.connection.alias)


def decrypt(apps, schema_editor):
    rewrite_rows_or_fail(apps.get_model("cluster", "Target"), decrypted, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("cluster", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="target",
            name="url",
            field=portal.core.fields.EncryptedCharField(
                blank=True,
                help_text="Redis or PostgreSQL: the connection URL with its credentials. Stored as a secret, shown masked.",
                max_length=500,
            ),
        ),
        migrations.RunPython(encrypt, decrypt),
    ]
