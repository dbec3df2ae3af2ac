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


# What the simulator's demo cluster runs (portal/kubesim/seed.py), and which service each deployment serves.
DEMO_NAMESPACES = [("broxiva-production", "production"), ("broxiva-staging", "staging")]
DEMO_WORKLOADS = [
    ("api", "broxiva-production", "broxiva-api"),
    ("api", "broxiva-staging", "broxiva-api"),
    ("web", "broxiva-production", "broxiva-web"),
    ("web", "broxiva-staging", "broxiva-web"),
    ("workers", "broxiva-production", "broxiva-worker"),
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
        targets = self._demo_targets()
        self.stdout.write(
            f"Demo data: {created} new people, {services} new services, {incidents} new incidents, "
            f"{targets} new action targets."
        )

    def _demo_targets(self) -> int:
        """The simulated cluster `make run` starts (kubeconfig context `portal-simulator`), its production and staging
        namespaces, and which deployments the services run as, so incidents offer quick actions."""
        from portal.cluster.models import Environment, Namespace, Target, Workload
        from portal.kubesim.server import CONTEXT

        cluster, created = Target.objects.get_or_create(
            slug="demo-cluster",
            defaults={
                "name": "Demo cluster (SIMULATED)", "kind": Target.Kind.KUBERNETES, "context": CONTEXT,
                "environment": Environment.PRODUCTION,
                "description": "The local Kubernetes API simulator (portal/kubesim), not a real cluster.",
            },
        )  # fmt: skip
        namespaces = {
            name: Namespace.objects.get_or_create(target=cluster, name=name, defaults={"environment": environment})[0]
            for name, environment in DEMO_NAMESPACES
        }
        for service, namespace, deployment in DEMO_WORKLOADS:
            Workload.objects.get_or_create(
                service=Service.objects.get(slug=service), target=cluster, namespace=namespaces[namespace],
                deployment=deployment,
            )  # fmt: skip
        return int(created)

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
