import secrets

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from portal.accounts.models import User
from portal.accounts.roles import Role


class Command(BaseCommand):
    help = "Create the admin account once and print its login; later runs leave it alone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args: object, username: str, email: str, **options: object) -> None:
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Admin account {username!r} exists; its password was printed when it was created "
                f"(reset it with: .venv/bin/python manage.py changepassword {username})."
            )
            return
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user = User.objects.create_superuser(username=username, email=email, password=password)
            user.groups.add(Group.objects.get(name=Role.ADMIN))
        banner = "=" * 60
        self.stdout.write(
            self.style.SUCCESS(f"{banner}\n  Admin login  user: {username}   password: {password}\n{banner}")
        )
