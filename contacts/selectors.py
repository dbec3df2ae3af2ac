"""Reads of the contacts: the Contacts page, and what an incident page shows of them."""

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from contacts.models import Dashboard, DeploymentEnvironment, KeyLink, Team, Vendor
from incidents.models import EscalationLevel, EscalationPolicy, Incident
from portal.accounts.models import User
from portal.core.derived_cache import DerivedCache


def team_list() -> QuerySet[Team]:
    return Team.objects.all()


def vendor_list() -> QuerySet[Vendor]:
    return Vendor.objects.prefetch_related("services")


def environment_list() -> QuerySet[DeploymentEnvironment]:
    return DeploymentEnvironment.objects.all()


def key_link_list() -> QuerySet[KeyLink]:
    return KeyLink.objects.all()


def dashboard_list() -> QuerySet[Dashboard]:
    return Dashboard.objects.prefetch_related("services")


@dataclass(frozen=True)
class MatrixLevel:
    level: EscalationLevel
    people: list[User]


def escalation_matrix() -> tuple[EscalationPolicy | None, list[MatrixLevel]]:
    """The default policy's levels with the active people each reaches (a group's members or the named users)."""
    policy = EscalationPolicy.objects.filter(is_default=True).first()
    if policy is None:
        return None, []
    active = User.objects.filter(is_active=True).order_by("username")
    levels = policy.levels.select_related("group").prefetch_related(
        Prefetch("users", queryset=active),
        Prefetch("group__user_set", queryset=active),
    )
    matrix = []
    for level in levels:
        group: Group | None = level.group
        people = list(group.user_set.all()) if group is not None else list(level.users.all())
        matrix.append(MatrixLevel(level=level, people=people))
    return policy, matrix


@dataclass(frozen=True)
class IncidentContacts:
    vendors: list[Vendor]
    dashboards: list[Dashboard]
    links: list[KeyLink]


# Every incident page shows the vendors, dashboards and key links it calls for, chosen from a handful of rows people
# rarely edit: all of them, with their services, are kept in the cache and dropped on any change (contacts/apps.py).
INCIDENT_DIRECTORY = DerivedCache("incident-contacts")


def _incident_directory() -> IncidentContacts:
    return IncidentContacts(
        vendors=list(vendor_list()),
        dashboards=list(dashboard_list().order_by("position", "name")),
        links=list(KeyLink.objects.filter(on_incidents=True)),
    )


def incident_contacts(incident: Incident) -> IncidentContacts:
    """The vendors an incident calls for (by its services, or a flag such as payment failure), its services'
    dashboards and those for every incident, and the links every incident page carries: no query while the cache
    holds them, besides the incident's services when they were not prefetched."""
    directory: IncidentContacts = INCIDENT_DIRECTORY.get_or_compute(
        "all", lambda: (_incident_directory(), None), now=timezone.now()
    )
    service_ids = {service.pk for service in incident.services.all()}
    flags = set(incident.flags)
    return IncidentContacts(
        vendors=[
            vendor
            for vendor in directory.vendors
            if flags & set(vendor.incident_flags) or service_ids & {service.pk for service in vendor.services.all()}
        ],
        dashboards=[
            dashboard
            for dashboard in directory.dashboards
            if not (ids := {service.pk for service in dashboard.services.all()}) or service_ids & ids
        ],
        links=directory.links,
    )
