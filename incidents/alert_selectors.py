from django.db.models import QuerySet

from incidents.models import Alert, AlertGroup, Incident, Integration, SuppressionRule
from operations.selectors.alerting import remember_alertnames


def alerts() -> QuerySet[Alert]:
    return Alert.objects.select_related(
        "integration", "service", "incident", "suppressed_by", "suppression_rule"
    ).order_by("-last_received_at", "-pk")


def alert_groups() -> QuerySet[AlertGroup]:
    return AlertGroup.objects.select_related("integration").order_by("-last_alert_at", "-pk")


# What the incident page shows of each alert: not its labels and annotations, which are the most of a row.
ALERT_SHOWN = ("status", "alertname", "service_label", "starts_at", "ends_at", "generator_url", "last_received_at")


def incident_alerts(incident: Incident, *, limit: int) -> list[Alert]:
    """The alerts an incident holds, firing first, then the latest received: what its page lists. One more than
    `limit` is read to tell whether these are all of them; when they are, their names are the incident's
    (`incident_alertnames`, which its owner and runbooks need) and that read is saved."""
    held = Alert.objects.filter(incident=incident).select_related("service").only(*ALERT_SHOWN, "service__name")
    alerts = list(held.order_by("status", "-last_received_at", "-pk")[: limit + 1])  # "firing" sorts first
    if len(alerts) <= limit:
        remember_alertnames(incident, {alert.alertname for alert in alerts})
    return alerts[:limit]


def integrations() -> QuerySet[Integration]:
    return Integration.objects.select_related("created_by").order_by("name")


def suppression_rules() -> QuerySet[SuppressionRule]:
    return SuppressionRule.objects.order_by("pk")
