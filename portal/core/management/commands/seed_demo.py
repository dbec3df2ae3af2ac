from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from portal.accounts.models import User
from portal.accounts.roles import Role

# One demo person per role; each app's demo data joins here as it lands. Re-running adds nothing.
DEMO_PEOPLE = [
    ("vera.viewer", "Vera", "Viewer", Role.VIEWER),
    ("rami.responder", "Rami", "Responder", Role.RESPONDER),
    ("cora.commander", "Cora", "Commander", Role.INCIDENT_COMMANDER),
]


class Command(BaseCommand):
    help = "Load the demo data (idempotent)."

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        created = 0
        for username, first, last, role in DEMO_PEOPLE:
            user, was_created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"},
            )
            if was_created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                created += 1
            user.groups.add(Group.objects.get(name=role))
        self.stdout.write(f"Demo data: {created} new people ({len(DEMO_PEOPLE) - created} already there).")
