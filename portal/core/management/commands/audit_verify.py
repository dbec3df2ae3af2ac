from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from portal.core.selectors import VERIFY_BATCH, audit_chain_verify
from portal.core.services import audit_chain_record_verification


class Command(BaseCommand):
    help = (
        "Verify the tamper-evident audit chain from its start (or the last prune's anchor) to its head. Names the "
        "first entry altered, deleted or inserted out of order, and exits with status 1 if there is one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=VERIFY_BATCH, help="links read per query")
        parser.add_argument(
            "--record", action="store_true", help="keep the verdict for health and the audit page, as beat does"
        )

    def handle(self, *args: Any, batch_size: int, record: bool, **options: Any) -> None:
        now, batch_size = timezone.now(), max(batch_size, 1)
        if record:
            report = audit_chain_record_verification(now=now, batch_size=batch_size)
        else:
            report = audit_chain_verify(now=now, batch_size=batch_size)
        start = (
            f"the anchor at link {report.start.position} (entry {report.start.entry_id}, pruned)"
            if report.start.position
            else "the start"
        )
        self.stdout.write(f"Audit chain: {report.checked} links checked from {start}.")
        if report.problem:
            raise CommandError(f"Audit chain BROKEN: {report.problem.detail}")
        through = f"link {report.last.position} (entry {report.last.entry_id})" if report.last.entry_id else "its start"
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact through {through}; head hash {report.last.hash}."))
