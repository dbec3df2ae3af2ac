from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.accounts.models import User
from portal.accounts.services import api_token_create
from portal.errors import ApplicationError


class Command(BaseCommand):
    help = "Issue an API token for USERNAME and print its key (only the key, for scripts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="What uses the token (default: cli).")

    def handle(self, *args: object, username: str, name: str, **options: object) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            issued = api_token_create(user=user, name=name, created_by=None)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(issued.key)
