"""Reads of the alert catalogue, and the Prometheus rules file built from it and from the SLOs."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from contacts.models import Team
from incidents.models import Alert, Incident
from operations.alert_rules import render_rules, rules_document
from operations.models import AlertRule, Runbook, Slo
from operations.selectors.slo import burn_rules
from portal.core.derived_cache import DerivedCache


def alert_rule_list() -> QuerySet[AlertRule]:
    return AlertRule.objects.select_related("severity", "owner_team", "runbook", "service").order_by(
        "position", "name", "severity__rank"
    )


# The owner of alert names is the owner of the most severe catalogue entry among them, ties in the catalogue's
# order; an incident opened by catalogued alerts belongs to the owner of the names it holds.
OWNER_ORDER = ("severity__rank", "position", "name", "pk")


@dataclass(frozen=True)
class Catalogue:
    """What alert intake, the incident lists and the incident page read of the catalogue by alert name."""

    owners: dict[str, tuple[int, Team]]  # each catalogued name's owner, with its place in OWNER_ORDER (lower wins)
    runbooks: dict[str, tuple[Runbook, ...]]  # the runbooks linked to each name, by title, with their quick actions


# Kept in the cache and dropped on any change to the catalogue, its teams and severities, or the runbooks
# (OperationsConfig.ready): every incident page and list page would otherwise read it again.
CATALOGUE = DerivedCache("alert-catalogue")


def alert_catalogue() -> Catalogue:
    catalogue: Catalogue = CATALOGUE.get_or_compute("catalogue", _catalogue, now=timezone.now())
    return catalogue


def _catalogue() -> tuple[Catalogue, None]:
    owners: dict[str, tuple[int, Team]] = {}
    for place, rule in enumerate(AlertRule.objects.select_related("owner_team").order_by(*OWNER_ORDER)):
        owners.setdefault(rule.name, (place, rule.owner_team))
    runbooks: dict[str, list[Runbook]] = defaultdict(list)
    linked = Runbook.objects.only("slug", "title", "when").prefetch_related("alert_links", "quick_actions")
    for runbook in linked.order_by("title", "pk"):
        for link in runbook.alert_links.all():
            runbooks[link.alertname].append(runbook)
    return Catalogue(owners, {name: tuple(found) for name, found in runbooks.items()}), None


def catalogue_owner(alertname: str) -> Team | None:
    """The team that owns an alert of the catalogue, by its name (the most severe entry's owner), or None."""
    return owner_of([alertname], alert_catalogue().owners)


def owner_of(alertnames: Iterable[str], owners: Mapping[str, tuple[int, Team]]) -> Team | None:
    """The team owning these alert names, from the catalogue's `owners`; None when none is catalogued."""
    found = [owners[name] for name in set(alertnames) if name in owners]
    return min(found, key=lambda owner: owner[0])[1] if found else None


def incidents_alertnames(incident_ids: Iterable[int]) -> dict[int, set[str]]:
    """The names of the alerts each incident holds, in one query (an index-only scan of `alert_incident_name_idx`)."""
    names: dict[int, set[str]] = defaultdict(set)
    held = Alert.objects.filter(incident_id__in=list(incident_ids)).order_by().distinct()
    for incident_id, name in held.values_list("incident_id", "alertname"):
        names[incident_id].add(name)
    return names


ALERTNAMES_CACHE = "_alertnames"


def incident_alertnames(incident: Incident) -> set[str]:
    """`incidents_alertnames` of one incident, read once per instance (its owner and runbooks both need them)."""
    if not hasattr(incident, ALERTNAMES_CACHE):
        setattr(incident, ALERTNAMES_CACHE, incidents_alertnames([incident.pk]).get(incident.pk, set()))
    names: set[str] = getattr(incident, ALERTNAMES_CACHE)
    return names


def remember_alertnames(incident: Incident, names: set[str]) -> None:
    """Give `incident_alertnames` the names of all the incident's alerts, read by the caller with them."""
    setattr(incident, ALERTNAMES_CACHE, names)


def incidents_owners(incident_ids: Iterable[int]) -> dict[int, Team]:
    """The team owning each incident's alerts (none for an incident no catalogued alert is in), in one query."""
    owners = alert_catalogue().owners
    found = {pk: owner_of(names, owners) for pk, names in incidents_alertnames(incident_ids).items()}
    return {pk: team for pk, team in found.items() if team is not None}


def incident_owner(incident: Incident) -> Team | None:
    """The team owning the incident's alerts; None for an incident no catalogued alert is in."""
    return owner_of(incident_alertnames(incident), alert_catalogue().owners)


def rules_file() -> str:
    """The exported rules file, in four queries whatever the number of alerts and SLOs."""
    base = settings.PORTAL_BASE_URL
    alert_rules = list(alert_rule_list().filter(enabled=True))
    slos = list(Slo.objects.select_related("service").filter(active=True).exclude(promql="").order_by("name"))
    document = rules_document(
        alert_rules=alert_rules,
        runbook_urls={
            rule.runbook.pk: base + reverse("runbook-detail", args=[rule.runbook.slug])
            for rule in alert_rules
            if rule.runbook is not None
        },
        slos=slos,
        burn_rules=burn_rules(),
        slo_urls={slo.pk: base + reverse("slo-detail", args=[slo.slug]) for slo in slos},
        step_seconds=settings.SLI_STEP_SECONDS,
    )
    return render_rules(document)
