from datetime import timedelta

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents.models import Service
from portal.accounts.models import User
from portal.accounts.roles import Role

# One demo person per role; each app's demo data joins here as it lands. Re-running adds nothing.
DEMO_PEOPLE = [
    ("vera.viewer", "Vera", "Viewer", Role.VIEWER),
    ("rami.responder", "Rami", "Responder", Role.RESPONDER),
    ("cora.commander", "Cora", "Commander", Role.INCIDENT_COMMANDER),
    ("sam.sre", "Sam", "Sre", Role.RESPONDER),
]
# The seeds' weekly rotation, in this order; Cora leads it. Contact methods show on the on-call board.
DEMO_ONCALL = [
    ("rami.responder", "+14155550101", "@rami"),
    ("sam.sre", "+14155550102", "@sam"),
    ("cora.commander", "+14155550103", "@cora"),
]

# The platform's services, from the seeds' SLO and recovery-objective tables.
DEMO_SERVICES = [
    ("API", "api", "Platform", Service.Tier.CRITICAL, "Public REST API (api.broxiva.com)"),
    ("Web", "web", "Frontend", Service.Tier.CRITICAL, "Storefront (www.broxiva.com)"),
    ("Payments", "payments", "Checkout", Service.Tier.CRITICAL, "Payment processing"),
    ("Database (PostgreSQL)", "database", "Platform", Service.Tier.CRITICAL, "Primary database"),
    ("Redis Cache", "redis", "Platform", Service.Tier.HIGH, "Cache and sessions"),
    ("Workers", "workers", "Platform", Service.Tier.HIGH, "Background jobs"),
    ("File Storage (S3)", "storage", "Platform", Service.Tier.STANDARD, "Uploads and assets"),
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
        services = sum(
            Service.objects.get_or_create(
                slug=slug, defaults={"name": name, "owner_team": team, "tier": tier, "description": description}
            )[1]
            for name, slug, team, tier, description in DEMO_SERVICES
        )
        incidents = self._demo_incidents()
        rotations = self._demo_rotation()
        self.stdout.write(
            f"Demo data: {created} new people, {services} new services, {incidents} new incidents, "
            f"{rotations} new rotation schedules."
        )

    def _demo_incidents(self) -> int:
        """An open P2 with an update and a resolved P3, so the pages have something to show."""
        from incidents.models import Incident, Severity
        from incidents.services import incident_declare, incident_post_update, incident_transition

        if Incident.objects.filter(title__in=["Checkout latency above SLO", "Search results stale"]).exists():
            return 0
        commander = User.objects.get(username="cora.commander")
        now = timezone.now()
        checkout = incident_declare(
            title="Checkout latency above SLO", severity=Severity.objects.get(code="P2"), reporter=commander,
            commander=commander, services=Service.objects.filter(slug__in=["api", "payments"]),
            impact_summary="p95 checkout latency 3.1 s (SLO: 500 ms); about 12% of checkouts time out.",
            is_public=True, detected_at=now - timedelta(minutes=22), now=now,
        )  # fmt: skip
        incident_transition(incident=checkout, to_status=Incident.Status.INVESTIGATING, actor=commander, now=now)
        incident_post_update(
            incident=checkout, label="investigating", actor=commander, now=now,
            description="We are investigating slow checkouts; a payment-provider timeout is suspected.",
        )  # fmt: skip
        search = incident_declare(
            title="Search results stale", severity=Severity.objects.get(code="P3"), reporter=commander,
            services=Service.objects.filter(slug="api"), detected_at=now - timedelta(days=2), now=now,
        )  # fmt: skip
        incident_transition(incident=search, to_status=Incident.Status.RESOLVED, actor=commander, note="Reindexed")
        return 2

    def _demo_rotation(self) -> int:
        """People for the seeded "Platform on-call" rotation, from now on (earlier weeks had nobody)."""
        from oncall.models import Participant, Rotation
        from oncall.services import rotation_create, rotation_update, rotation_version_add

        people = []
        for username, phone, chat_handle in DEMO_ONCALL:
            user = User.objects.get(username=username)
            if not user.phone and not user.chat_handle:
                user.phone, user.chat_handle = phone, chat_handle
                user.save(update_fields=["phone", "chat_handle"])
            people.append(user)
        lead, services = User.objects.get(username="cora.commander"), Service.objects.all()
        rotation = Rotation.objects.filter(name="Platform on-call").first()
        if rotation is None:  # the migration's rotation was deleted: make it again
            rotation_create(name="Platform on-call", start_date=timezone.now().date(), participants=people,
                            lead=lead, services=services, actor=None)  # fmt: skip
            return 1
        if Participant.objects.filter(version__rotation=rotation).exists():
            return 0
        rotation_update(rotation=rotation, actor=None, lead=lead, services=services)
        now = timezone.now()
        rotation_version_add(rotation=rotation, actor=None, effective_from=now, participants=people,
                             note="Demo people", now=now)  # fmt: skip
        return 1
