from celery import shared_task
from django.utils import timezone

from portal.notifications import delivery
from portal.notifications.models import Delivery
from portal.notifications.services import enqueue_on_commit


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def deliver_notifications(delivery_ids: list[int]) -> None:
    """Send these deliveries; a redelivered message finds them claimed or done and does nothing."""
    for retry in delivery.deliver(delivery_ids):
        countdown = max(0.0, (retry.at - timezone.now()).total_seconds())
        # If this message is lost too, the sweeper finds the row overdue and sends it.
        deliver_notifications.apply_async(([retry.delivery_id],), countdown=countdown)


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def sweep_deliveries() -> int:
    """Re-enqueue deliveries the broker lost (outage between commit and publish, a worker killed mid-send)."""
    rows: list[Delivery] = delivery.stranded()
    enqueue_on_commit(rows)
    return len(rows)
