"""Sending deliveries: claim rows under a lock, send outside any transaction, record the outcome.

A row is claimed (queued -> sending) in its own transaction, so a redelivered task message finds it taken and does
nothing; a delivered row is never sent again. Failures are retried with exponential backoff and jitter up to
NOTIFICATION_MAX_ATTEMPTS, then marked failed with the reason. Nothing here raises for a bad recipient or channel.
"""

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.notifications import senders
from portal.notifications.models import Channel, Delivery

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retry:
    delivery_id: int
    at: datetime


def backoff(attempt: int, *, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with 'equal jitter': half the step fixed, half random, capped."""
    step = min(settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** (attempt - 1), settings.NOTIFICATION_RETRY_MAX_SECONDS)
    return timedelta(seconds=step / 2 + (rng or random).uniform(0, step / 2))  # noqa: S311 - jitter, not security


def claim(delivery_ids: list[int], *, now: datetime) -> list[Delivery]:
    """Mark due, queued rows as sending and return them; rows already taken, delivered or not yet due are skipped."""
    claimed = []
    with transaction.atomic():
        rows = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=delivery_ids, status=Delivery.Status.QUEUED, next_attempt_at__lte=now)
            .select_related("channel", "notification", "user")
            .order_by("pk")
        )
        for row in rows:
            row.status = Delivery.Status.SENDING
            row.attempts += 1
            row.save(update_fields=["status", "attempts", "updated_at"])
            claimed.append(row)
    return claimed


def deliver(delivery_ids: list[int], *, now: datetime | None = None) -> list[Retry]:
    """Send the given deliveries; return the retries to schedule."""
    rows = claim(delivery_ids, now=now or timezone.now())
    outcomes: dict[int, senders.Outcome] = {}
    emails = [row for row in rows if row.channel.kind == Channel.Kind.EMAIL]
    if emails:
        outcomes |= senders.send_email_batch(emails)
    for row in rows:
        if row.channel.kind != Channel.Kind.EMAIL:
            outcomes[row.pk] = senders.send(row)
    retries = []
    for row in rows:
        if (retry := record_outcome(row, outcomes[row.pk])) is not None:
            retries.append(retry)
    return retries


def record_outcome(row: Delivery, outcome: "senders.Outcome", *, now: datetime | None = None) -> Retry | None:
    now = now or timezone.now()
    row.address = outcome.address or row.address
    row.response = outcome.response[:500]
    if outcome.ok:
        row.status, row.delivered_at, row.last_error = Delivery.Status.DELIVERED, now, ""
    elif outcome.permanent or row.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        row.status = Delivery.Status.FAILED
        row.last_error = f"Attempt {row.attempts}: {outcome.error}"[:2000]
    else:
        row.status = Delivery.Status.QUEUED
        row.next_attempt_at = now + backoff(row.attempts)
        row.last_error = f"Attempt {row.attempts}: {outcome.error}"[:2000]
    row.save(
        update_fields=["address", "response", "status", "delivered_at", "last_error", "next_attempt_at", "updated_at"]
    )
    if row.status == Delivery.Status.FAILED:
        logger.warning("Delivery %s failed for good: %s", row.pk, row.last_error)
    return Retry(row.pk, row.next_attempt_at) if row.status == Delivery.Status.QUEUED else None


def stranded(*, now: datetime | None = None) -> list[Delivery]:
    """Rows the broker may have lost: queued and overdue, or claimed by a worker that did not report back.

    A row left 'sending' may or may not have gone out; re-sending it is the price of never losing one (the pager's
    dedup key makes its re-send harmless).
    """
    now = now or timezone.now()
    overdue = now - timedelta(seconds=settings.NOTIFICATION_STUCK_AFTER_SECONDS)
    abandoned = now - timedelta(seconds=settings.NOTIFICATION_SENDING_TIMEOUT_SECONDS)
    with transaction.atomic():
        stuck = list(
            Delivery.objects.select_for_update(skip_locked=True).filter(
                status=Delivery.Status.SENDING, updated_at__lte=abandoned
            )
        )
        for row in stuck:
            row.status = Delivery.Status.QUEUED
            row.next_attempt_at = now
            row.last_error = f"Attempt {row.attempts}: no outcome recorded (worker lost?); sending again."
            row.save(update_fields=["status", "next_attempt_at", "last_error", "updated_at"])
    queued = Delivery.objects.filter(status=Delivery.Status.QUEUED, next_attempt_at__lte=overdue)
    return list(queued.select_related("channel")) + stuck
