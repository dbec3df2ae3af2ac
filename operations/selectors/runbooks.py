from django.db.models import QuerySet

from incidents.models import Alert, Incident
from operations.models import Runbook


def runbook_list() -> QuerySet[Runbook]:
    return Runbook.objects.select_related("owner").prefetch_related("alert_links", "quick_actions").order_by("title")


def runbooks_for_incident(incident: Incident) -> QuerySet[Runbook]:
    """The runbooks linked to the names of the alerts that opened or joined the incident: one query (and two
    prefetches), whatever the number of alerts."""
    alertnames = Alert.objects.filter(incident=incident).values("alertname")
    return runbook_list().filter(alert_links__alertname__in=alertnames).distinct()
