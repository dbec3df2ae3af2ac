from django.db.models import QuerySet

from incidents.models import Incident
from operations.models import Runbook
from operations.selectors.alerting import alert_catalogue, incident_alertnames


def runbook_list() -> QuerySet[Runbook]:
    return Runbook.objects.select_related("owner").prefetch_related("alert_links", "quick_actions").order_by("title")


def runbooks_for_incident(incident: Incident) -> list[Runbook]:
    """The runbooks linked to the names of the alerts that opened or joined the incident, by title: from the
    catalogue (cached) and the incident's alert names (`incident_alertnames`), whatever the number of alerts."""
    linked = alert_catalogue().runbooks
    found = {runbook.pk: runbook for name in incident_alertnames(incident) for runbook in linked.get(name, ())}
    return sorted(found.values(), key=lambda runbook: (runbook.title, runbook.pk))
