from django.db.models import QuerySet

from incidents.models import Alert, AlertGroup, Incident, Integration, SuppressionRule


def alerts() -> QuerySet[Alert]:
    return Alert.objects.select_related(
        "integration", "service", "incident", "suppressed_by", "suppression_rule"
    ).order_by("-last_received_at", "-pk")


def alert_groups() -> QuerySet[AlertGroup]:
    return AlertGroup.objects.select_related("integration").order_by("-last_alert_at", "-pk")


def incident_alerts(incident: Incident, *, limit: int) -> list[Alert]:
    """The alerts an incident holds, firing first, then the latest received: what its page lists."""
    held = Alert.objects.filter(incident=incident).select_related("service")
    return list(held.order_by("status", "-last_received_at", "-pk")[:limit])  # "firing" sorts before "resolved"


def integrations() -> QuerySet[Integration]:
    return Integration.objects.select_related("created_by").order_by("name")


def suppression_rules() -> QuerySet[SuppressionRule]:
    return SuppressionRule.objects.order_by("pk")
