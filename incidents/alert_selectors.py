from django.db.models import QuerySet

from incidents.models import Alert, Integration, SuppressionRule


def alerts() -> QuerySet[Alert]:
    return Alert.objects.select_related(
        "integration", "service", "incident", "suppressed_by", "suppression_rule"
    ).order_by("-last_received_at", "-pk")


def integrations() -> QuerySet[Integration]:
    return Integration.objects.select_related("created_by").order_by("name")


def suppression_rules() -> QuerySet[SuppressionRule]:
    return SuppressionRule.objects.order_by("pk")
