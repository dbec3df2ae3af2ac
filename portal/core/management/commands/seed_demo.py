from datetime import datetime, timedelta

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents.models import Service
from portal.accounts.models import User
from portal.accounts.roles import Role
from portal.core.models import Environment

# One demo person per role; each app's demo data joins here as it lands. Re-running adds nothing.
DEMO_PEOPLE = [
    ("vera.viewer", "Vera", "Viewer", Role.VIEWER),
    ("rami.responder", "Rami", "Responder", Role.RESPONDER),
    ("cora.commander", "Cora", "Commander", Role.INCIDENT_COMMANDER),
    ("sam.sre", "Sam", "Sre", Role.RESPONDER),
]
# People in the escalation matrix's groups, so level 2 and 3 pages (and level 4 by hand) reach someone.
DEMO_LEADERS = [
    # username, first name, last name, role, group, phone, chat handle
    ("pia.lead", "Pia", "Lead", Role.INCIDENT_COMMANDER, "Platform Leads", "+14155550111", "@platform-lead"),
    ("eli.manager", "Eli", "Manager", Role.INCIDENT_COMMANDER, "Engineering Managers", "+14155550112", "@eng-manager"),
    ("cai.cto", "Cai", "Cto", Role.ADMIN, "Engineering Managers", "+14155550113", "@cto"),
    ("eve.exec", "Eve", "Exec", Role.VIEWER, "Executives", "+14155550114", "@ceo"),
]
# Which services the seeded vendors and dashboards are about (the migration ran before the services existed).
VENDOR_SERVICES = {"stripe": ["payments"], "aws": ["storage"], "sendgrid": ["workers"]}
DASHBOARD_SERVICES = {
    "API Detailed Metrics": ["api", "payments"],
    "Infrastructure Metrics": ["workers", "storage"],
    "Database Performance": ["database", "redis"],
    "Business Metrics": ["payments", "web"],
}
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

# Which services each seeded maintenance window touches.
DEMO_WINDOW_SERVICES = {
    "Standard updates": ["api", "web", "workers"],
    "Major upgrades": ["api", "web", "payments", "redis", "workers", "storage"],
    "Database maintenance": ["database"],
}


# The seeded SLOs and the demo services they measure.
SLO_SERVICES = {"api-availability": "api", "api-latency": "api", "api-error-rate": "api", "web-page-load": "web",
                "database-query": "database", "cache-hit-rate": "redis"}  # fmt: skip


# What the simulator's demo cluster runs (portal/kubesim/seed.py), and which service each deployment serves.
DEMO_NAMESPACES = [("broxiva-production", "production"), ("broxiva-staging", "staging")]
DEMO_WORKLOADS = [
    ("api", "broxiva-production", "broxiva-api"),
    ("api", "broxiva-staging", "broxiva-api"),
    ("web", "broxiva-production", "broxiva-web"),
    ("web", "broxiva-staging", "broxiva-web"),
    ("workers", "broxiva-production", "broxiva-worker"),
]


# The API's deployments, as the simulated cluster runs them (portal/kubesim/seed.py): production on the 2.4.1 hotfix
# since shortly before the demo's open incident, 2.4.0 before it, and staging on the next release candidate.
# (CI's run id, environment, version, commit).
DEMO_API_DEPLOYMENTS = {
    "previous": ("demo-api-2.4.0-production", Environment.PRODUCTION, "2.4.0", "4be1c07d2a"),
    "latest": ("demo-api-2.4.1-production", Environment.PRODUCTION, "2.4.1", "9f3c2a71be"),
    "staging": ("demo-api-2.5.0-rc.1-staging", Environment.STAGING, "2.5.0-rc.1", "c81d0e5f93"),
}
DEPLOYMENT_TAKES = timedelta(minutes=12)
# A deployment the freeze calendar would hold is placed this long before the freeze began: the last one before it.
BEFORE_FREEZE = timedelta(hours=6)


# The alert catalogue's entries about one service (the migration ran before the demo services existed).
ALERT_SERVICES = {"HighErrorRate": "api", "HighLatency": "api", "DatabaseDown": "database",
                  "PostgresqlTooManyConnections": "database"}  # fmt: skip


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
        created += self._demo_leaders()
        services = sum(
            Service.objects.get_or_create(
                slug=slug, defaults={"name": name, "owner_team": team, "tier": tier, "description": description}
            )[1]
            for name, slug, team, tier, description in DEMO_SERVICES
        )
        self._demo_contacts()
        now = timezone.now()
        incidents = self._demo_incidents(now=now)
        notices = self._demo_maintenance()
        rotations = self._demo_rotation(now=now)
        deployments = self._demo_operations(now=now)
        checklists = self._demo_checklists(now=now)
        targets = self._demo_targets()
        self.stdout.write(
            f"Demo data: {created} new people, {services} new services, {incidents} new incidents, "
            f"{notices} maintenance notices, {deployments} new deployments, {checklists} new checklists, "
            f"{rotations} new rotation schedules, {targets} new action targets."
        )

    @staticmethod
    def _demo_leaders() -> int:
        created = 0
        for username, first, last, role, group, phone, chat_handle in DEMO_LEADERS:
            user, was_created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com", "phone": phone,
                          "chat_handle": chat_handle},
            )  # fmt: skip
            if was_created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                created += 1
            user.groups.add(Group.objects.get(name=role), Group.objects.get_or_create(name=group)[0])
        return created

    @staticmethod
    def _demo_contacts() -> None:
        """Tie the seeded vendors and dashboards to the demo services, unless an Admin already chose some."""
        from contacts.models import Dashboard, Vendor

        for slug, services in VENDOR_SERVICES.items():
            vendor = Vendor.objects.filter(slug=slug).first()
            if vendor is not None and not vendor.services.exists():
                vendor.services.add(*Service.objects.filter(slug__in=services))
        for name, services in DASHBOARD_SERVICES.items():
            dashboard = Dashboard.objects.filter(name=name).first()
            if dashboard is not None and not dashboard.services.exists():
                dashboard.services.add(*Service.objects.filter(slug__in=services))

    def _demo_maintenance(self) -> int:
        """The seeded windows get an owner and the services they touch; the sweep then materializes what is within
        its notice horizon (dates come from the windows' rules, never typed here)."""
        from maintenance.models import MaintenanceWindow
        from maintenance.services import maintenance_sweep

        owner = User.objects.get(username="cora.commander")
        for name, slugs in DEMO_WINDOW_SERVICES.items():
            window = MaintenanceWindow.objects.filter(name=name).first()
            if window is None:  # an Admin renamed or removed it: leave their choice alone
                continue
            if window.owner_id is None:
                window.owner = owner
                window.save(update_fields=["owner"])
            window.services.add(*Service.objects.filter(slug__in=slugs))
        return maintenance_sweep()

    def _demo_targets(self) -> int:
        """The simulated cluster `make run` starts (kubeconfig context `portal-simulator`), its production and staging
        namespaces, and which deployments the services run as, so incidents offer quick actions."""
        from portal.cluster.models import Namespace, Target, Workload
        from portal.core.models import Environment
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

    def _demo_incidents(self, *, now: datetime) -> int:
        """An open P2 detected minutes ago, with an update, and a P3 resolved two days ago within its target."""
        from incidents.models import Incident, Severity
        from incidents.services import incident_declare, incident_post_update, incident_transition

        if Incident.objects.filter(title__in=["Checkout latency above SLO", "Search results stale"]).exists():
            return 0
        commander = User.objects.get(username="cora.commander")
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
        detected = now - timedelta(days=2)
        search = incident_declare(
            title="Search results stale", severity=Severity.objects.get(code="P3"), reporter=commander,
            services=Service.objects.filter(slug="api"), detected_at=detected, now=detected + timedelta(minutes=10),
        )  # fmt: skip
        incident_transition(incident=search, to_status=Incident.Status.RESOLVED, actor=commander, note="Reindexed",
                            now=detected + timedelta(hours=5))  # fmt: skip
        return 2

    def _demo_operations(self, *, now: datetime) -> int:
        """The seeded SLOs tied to the demo services (the migration ran before they existed), and the API's
        deployments, placed before `now` where the freeze calendar lets them through: during a freeze, production's
        last deployments are those before it began, as they would have been."""
        from operations.models import AlertRule, Slo

        for slo, service in SLO_SERVICES.items():
            found = Slo.objects.filter(slug=slo, service__isnull=True).first()
            if found is not None:
                found.service = Service.objects.get(slug=service)
                found.save(update_fields=["service"])
        for rule in AlertRule.objects.filter(name__in=ALERT_SERVICES, service__isnull=True):
            rule.service = Service.objects.get(slug=ALERT_SERVICES[rule.name])
            rule.save(update_fields=["service"])
        latest = self._unfrozen(Environment.PRODUCTION, now - timedelta(minutes=40))
        if latest != now - timedelta(minutes=40):
            self.stdout.write(
                f"Production is frozen now: the demo's production deployments are placed before the freeze, the "
                f"latest at {latest:%Y-%m-%d %H:%M} UTC."
            )
        placed = {
            "latest": latest,
            "previous": self._unfrozen(Environment.PRODUCTION, latest - timedelta(days=3)),
            "staging": self._unfrozen(Environment.STAGING, now - timedelta(hours=3)),
        }
        return sum(
            self._demo_deployment(*DEMO_API_DEPLOYMENTS[name], started_at=started_at, now=now)
            for name, started_at in sorted(placed.items(), key=lambda item: item[1])
        )

    def _demo_checklists(self, *, now: datetime) -> int:
        """This day's, week's, month's and quarter's operations checklists, given to whoever is on call now, so the
        demo need not wait for beat's first pass (which then finds them made)."""
        from operations.services.checklists import checklists_generate

        return len(checklists_generate(now=now))

    @staticmethod
    def _unfrozen(environment: str, at: datetime) -> datetime:
        """`at`, or BEFORE_FREEZE before the frozen stretch around it began (and before any freeze just before)."""
        from maintenance.policy import frozen_since

        for _ in range(12):
            since = frozen_since(environment, at)
            if since is None:
                break
            at = since - BEFORE_FREEZE
        return at

    def _demo_deployment(
        self, external_id: str, environment: str, version: str, commit: str, *, started_at: datetime, now: datetime
    ) -> int:
        """One deployment as CI would have reported it: planned half an hour ahead, its pre-deployment items ticked
        before it started, then started and ended; its other checklist ticked every 10 minutes after it ended."""
        from operations.models import ChecklistTemplate
        from operations.services.checklists import checklist_item_set_done
        from operations.services.deployments import (
            DeploymentFrozenError,
            deployment_record,
            deployment_set_status,
            deployment_start,
        )

        finished_at = min(started_at + DEPLOYMENT_TAKES, now)
        planned_at = started_at - timedelta(minutes=35)
        deployer = User.objects.get(username="cora.commander")
        deployment, created = deployment_record(
            service=Service.objects.get(slug="api"), environment=environment, version=version, commit=commit,
            who=deployer.username, actor=None, status="planned", external_id=external_id,
            started_at=started_at, now=planned_at,
        )  # fmt: skip
        if not created:
            return 0
        checklists = list(deployment.checklists.prefetch_related("items"))
        for checklist in checklists:
            if checklist.kind == ChecklistTemplate.Kind.PRE_DEPLOYMENT:
                for position, item in enumerate(checklist.items.all()):
                    done_at = started_at - timedelta(minutes=30 - 5 * position)
                    checklist_item_set_done(item=item, done=True, actor=deployer, now=done_at)
        try:
            deployment_start(deployment=deployment, actor=None, now=started_at)
        except DeploymentFrozenError as refused:  # frozen for longer than _unfrozen follows: say so, leave it planned
            self.stdout.write(f"Demo deployment {version} to {environment} not started: {refused.message}")
            return 0
        deployment_set_status(deployment=deployment, status="succeeded", now=finished_at)
        for checklist in checklists:
            if checklist.kind != ChecklistTemplate.Kind.PRE_DEPLOYMENT:
                for position, item in enumerate(checklist.items.all()):
                    done_at = finished_at + timedelta(minutes=10 * (position + 1))
                    if done_at <= now:
                        checklist_item_set_done(item=item, done=True, actor=deployer, now=done_at)
        return 1

    def _demo_rotation(self, *, now: datetime) -> int:
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
            rotation_create(name="Platform on-call", start_date=now.date(), participants=people,
                            lead=lead, services=services, actor=None)  # fmt: skip
            return 1
        if Participant.objects.filter(version__rotation=rotation).exists():
            return 0
        rotation_update(rotation=rotation, actor=None, lead=lead, services=services)
        rotation_version_add(rotation=rotation, actor=None, effective_from=now, participants=people,
                             note="Demo people", now=now)  # fmt: skip
        return 1
