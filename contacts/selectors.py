"""Reads of the contacts: the Contacts page, and what an incident page shows of them."""

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db.models import Prefetch, Q, QuerySet

from contacts.models import Dashboard, DeploymentEnvironment, KeyLink, Team, Vendor
from incidents.models import EscalationLevel, EscalationPolicy, Incident
from portal.accounts.models import User


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


def incident_contacts(incident: Incident) -> IncidentContacts:
    """The vendors an incident calls for (by its services, or a flag such as payment failure), its services'
    dashboards and those for every incident, and the links every incident page carries: five queries."""
    service_ids = {service.pk for service in incident.services.all()}
    flags = set(incident.flags)
    # Vendors are a handful: matching flags in Python keeps the JSON list portable across databases.
    vendors = [
        vendor
        for vendor in vendor_list()
        if flags & set(vendor.incident_flags) or service_ids & {service.pk for service in vendor.services.all()}
    ]
    dashboards = Dashboard.objects.filter(Q(services__in=service_ids) | Q(services__isnull=True))
    return IncidentContacts(
        vendors=vendors,
        dashboards=list(dashboards.distinct().order_by("position", "name")),
        links=list(KeyLink.objects.filter(on_incidents=True)),
    )
