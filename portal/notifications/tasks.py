from typing import Any

from celery import shared_task
from django.utils import timezone

from portal.notifications import chatops, delivery
from portal.notifications.models import Delivery
from portal.notifications.services import enqueue_on_commit
from portal.notifications.slack import SlackApiError, respond


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


@shared_task(acks_late=False, soft_time_limit=30, time_limit=45)
def slack_deferred(kind: str, payload: dict[str, str]) -> None:
    """A command or button from a Slack user the portal does not know yet: ask Slack for their email, then act and
    answer through `response_url`. Acknowledged on receipt (not `acks_late`): a command must never run twice."""
    reply = chatops.slack_deferred_run(kind=kind, payload=payload)
    slack_respond.delay(payload["response_url"], reply.as_slack())


@shared_task(
    autoretry_for=(SlackApiError,), retry_backoff=5, max_retries=4, acks_late=True, soft_time_limit=30, time_limit=45
)
def slack_respond(response_url: str, body: dict[str, Any]) -> None:
    """Answer Slack later through a command's or button's `response_url` (Slack takes 5 answers in 30 minutes)."""
    respond(response_url, body)


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def pagerduty_event_process(event_id: int, webhook_id: int) -> str:
    """Act on a PagerDuty webhook event once; a redelivered message finds it done."""
    return chatops.pagerduty_event_process(event_id=event_id, webhook_id=webhook_id)
