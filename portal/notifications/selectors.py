from django.db.models import QuerySet

from portal.notifications.models import Delivery


def deliveries() -> QuerySet[Delivery]:
    return Delivery.objects.select_related("channel", "notification", "user").order_by("-created_at", "-pk")
