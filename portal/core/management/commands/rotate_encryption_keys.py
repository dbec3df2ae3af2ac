from argparse import ArgumentParser
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from portal.core.encryption import BATCH_SIZE, Tally, encrypted_fields, reencrypted, rewrite_rows


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field with the first key of FIELD_ENCRYPTION_KEYS (values still in clear are "
        "encrypted). Run it after putting a new key first; drop the old key once it reports nothing re-encrypted. "
        "Safe to run again and while the portal runs."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="Rows per transaction.")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        total = Tally()
        for model in apps.get_models():
            if not encrypted_fields(model):
                continue
            tally = rewrite_rows(model, reencrypted, batch_size=batch_size)
            self.stdout.write(f"{model._meta.label}: {tally}")
            total += tally
        self.stdout.write(f"Total: {total}")
        if total.failures:
            raise CommandError(
                f"No key in FIELD_ENCRYPTION_KEYS decrypts {', '.join(total.failures)}: add the key they were "
                "encrypted with (anywhere after the first) and run this again."
            )
