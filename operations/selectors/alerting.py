"""Reads of the alert catalogue, and the Prometheus rules file built from it and from the SLOs."""

from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery
from django.urls import reverse

from contacts.models import Team
from incidents.models import Alert, Incident
from operations.alert_rules import render_rules, rules_document
from operations.models import AlertRule, Slo
from operations.selectors.slo import burn_rules


def alert_rule_list() -> QuerySet[AlertRule]:
    return AlertRule.objects.select_related("severity", "owner_team", "runbook", "service").order_by(
        "position", "name", "severity__rank"
    )


def catalogue_owner(alertname: str) -> Team | None:
    """The team that owns an alert of the catalogue, by its name (the most severe entry's owner), or None."""
    return owner_of([alertname], catalogue_owners([alertname]))


# The owner of alert names is the owner of the most severe catalogue entry among them, ties in the catalogue's
# order; an incident opened by catalogued alerts belongs to the owner of the names it holds.
OWNER_ORDER = ("severity__rank", "position", "name", "pk")


def catalogue_owners(alertnames: Iterable[str]) -> dict[str, tuple[int, Team]]:
    """Each catalogued name's owner with its place in OWNER_ORDER (lower wins), in one query for any number."""
    owners: dict[str, tuple[int, Team]] = {}
    entries = AlertRule.objects.select_related("owner_team").filter(name__in=set(alertnames)).order_by(*OWNER_ORDER)
    for place, rule in enumerate(entries):
        owners.setdefault(rule.name, (place, rule.owner_team))
    return owners


def owner_of(alertnames: Iterable[str], owners: Mapping[str, tuple[int, Team]]) -> Team | None:
    """The team owning these alert names, from `catalogue_owners`; None when none is catalogued."""
    found = [owners[name] for name in set(alertnames) if name in owners]
    return min(found, key=lambda owner: owner[0])[1] if found else None


def incident_owner_team(field: str = "id") -> Subquery:
    """For annotating incidents: a field of the team owning the alert names the incident holds (NULL: none)."""
    names = Alert.objects.filter(incident=OuterRef(OuterRef("pk"))).values("alertname")
    entries = AlertRule.objects.filter(name__in=names).order_by(*OWNER_ORDER)
    return Subquery(entries.values(f"owner_team__{field}")[:1])


def incident_owner(incident: Incident) -> Team | None:
    """The team owning the incident's alerts, in one query; None for an incident no catalogued alert is in."""
    return Team.objects.filter(
        pk__in=Incident.objects.filter(pk=incident.pk).values(owner=incident_owner_team())
    ).first()


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
