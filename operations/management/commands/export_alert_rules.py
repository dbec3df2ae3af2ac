from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from operations.selectors.alerting import rules_file


class Command(BaseCommand):
    help = "Write the alert catalogue and the SLO burn-rate alerts as a Prometheus rules file (stdout by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="Write to this file instead of stdout.")

    def handle(self, *args: object, **options: object) -> None:
        body = rules_file()
        output = options.get("output")
        if not output:
            self.stdout.write(body, ending="")
            return
        path = Path(str(output))
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(body, encoding="utf-8")
        temporary.replace(path)  # Prometheus reloading meanwhile reads the old file or the new one, never half
        self.stderr.write(f"Wrote {path}.")
