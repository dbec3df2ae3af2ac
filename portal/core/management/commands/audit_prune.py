from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from portal.core.services import audit_chain_prune
from portal.errors import ApplicationError


def instant(value: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or date and time (UTC unless it says otherwise)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Delete audit entries older than --before from the start of the tamper-evident chain, leaving an anchor "
        "that verification starts from. On PostgreSQL it runs as the maintenance role (AUDIT_MAINTENANCE_ROLE): "
        "connect as that role or as a member of it. Refuses to prune a chain that does not verify."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", required=True, type=instant, help="e.g. 2026-01-01 or 2026-01-01T00:00:00Z")

    def handle(self, *args: Any, before: datetime, **options: Any) -> None:
        now = timezone.now()
        if before > now:
            raise CommandError(f"--before {before.isoformat()} is in the future")
        try:
            result = audit_chain_prune(before=before, now=now)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if result.anchor is None:
            self.stdout.write("Nothing to prune: no audit entry at the start of the chain is that old.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Pruned {result.pruned} audit entries before {before.isoformat()}; the chain now starts after the "
                f"anchor at link {result.anchor.position} (entry {result.anchor.entry_id}, hash {result.anchor.hash})."
            )
        )
