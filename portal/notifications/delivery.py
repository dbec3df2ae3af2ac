"""Sending deliveries: claim rows under a lock, send outside any transaction, record each outcome as it comes.

Rows are claimed (queued -> sending) in one transaction, so a redelivered task message finds them taken and does
nothing; a delivered row is never sent again. Outcomes are saved (and audited) as they come, in groups at most
RECORD_EVERY_SECONDS old, each group in one statement, and whatever stops a batch (a time limit, a SIGINT) records
what it sent first: a batch cut short leaves only its unsent rows `sending` (a worker killed outright, those of its
last group too), and the sweeper re-sends only those. Failures are retried with exponential backoff and jitter up to
NOTIFICATION_MAX_ATTEMPTS, then marked failed with the reason. Nothing here raises for a bad recipient or channel.
"""

import copy
import itertools
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from portal.bulk import bulk_set
from portal.core.audit import sealed_together
from portal.notifications import senders
from portal.notifications.models import Channel, Delivery

logger = logging.getLogger(__name__)


# Outcomes are recorded in groups, one transaction each, as soon as this long has passed since the group's first: a
# worker killed outright re-sends at most that much of its batch, and a message costs one query (its audit entry).
RECORD_EVERY_SECONDS = 0.2

# What an outcome changes on its row.
OUTCOME_FIELDS = ("address", "response", "status", "delivered_at", "last_error", "next_attempt_at", "updated_at")


@dataclass(frozen=True)
class Retry:
    delivery_id: int
    at: datetime


def backoff(attempt: int, *, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with 'equal jitter': half the step fixed, half random, capped."""
    step = min(settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** (attempt - 1), settings.NOTIFICATION_RETRY_MAX_SECONDS)
    return timedelta(seconds=step / 2 + (rng or random).uniform(0, step / 2))  # noqa: S311 - jitter, not security


def claim(delivery_ids: list[int], *, now: datetime) -> list[Delivery]:
    """Mark due, queued rows as sending and return them; rows already taken, delivered or not yet due are skipped.

    The claim is a lease, written for the whole batch in one UPDATE and not audited: each row's audit entry is its
    outcome (`sending -> delivered`, `failed` or `queued` again), written once per attempt by `record_outcomes`.
    """
    with transaction.atomic():
        due = Delivery.objects.select_for_update(skip_locked=True).filter(
            pk__in=delivery_ids, status=Delivery.Status.QUEUED, next_attempt_at__lte=now
        )
        ids = list(due.order_by("pk").values_list("pk", flat=True))
        Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
        )
    rows = Delivery.objects.filter(pk__in=ids).select_related("channel", "notification", "user", "team")
    # Each email names the notification's services: read once for the batch, not twice per message.
    return list(rows.prefetch_related("notification__services").order_by("pk"))


def deliver(delivery_ids: list[int], *, now: datetime | None = None) -> list[Retry]:
    """Send the given deliveries; return the retries to schedule."""
    rows = claim(delivery_ids, now=now or timezone.now())
    emails = [row for row in rows if row.channel.kind == Channel.Kind.EMAIL]
    sent = senders.send_email_batch(emails) if emails else iter(())
    others = ((row, senders.send(row)) for row in rows if row.channel.kind != Channel.Kind.EMAIL)
    retries: list[Retry] = []
    group: list[tuple[Delivery, senders.Outcome]] = []
    since = time.monotonic()
    try:
        for row, outcome in itertools.chain(sent, others):
            if not group:
                since = time.monotonic()
            group.append((row, outcome))
            if time.monotonic() - since >= RECORD_EVERY_SECONDS:
                retries += record_outcomes(group)
                group = []
    finally:
        # Whatever stops the batch (a SIGINT, a time limit), what it sent is recorded as sent.
        retries += record_outcomes(group)
    return retries


def record_outcomes(results: list[tuple[Delivery, "senders.Outcome"]]) -> list[Retry]:
    """Save a group's outcomes in one statement, and audit each row's change, in one transaction whose entries are
    sealed together. The entries are written here, against the row as it was claimed: auditlog's own receiver would
    read each row back before its save to find what changed, a query per message."""
    now = timezone.now()
    retries, changed = [], []
    for row, outcome in results:
        claimed = copy.copy(row)
        if (retry := _apply_outcome(row, outcome, now=now)) is not None:
            retries.append(retry)
        changed.append((claimed, row))
    with sealed_together():
        bulk_set([row for _claimed, row in changed], OUTCOME_FIELDS)
        for claimed, row in changed:
            changes = model_instance_diff(claimed, row, use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES)
            LogEntry.objects.log_create(row, action=LogEntry.Action.UPDATE, changes=changes)
    for _claimed, row in changed:
        if row.status == Delivery.Status.FAILED:
            logger.warning("Delivery %s failed for good: %s", row.pk, row.last_error)
    return retries


def _apply_outcome(row: Delivery, outcome: "senders.Outcome", *, now: datetime) -> Retry | None:
    """Set the row's fields for the outcome (unsaved); the retry to schedule, if any."""
    row.address = outcome.address or row.address
    row.response = outcome.response[:500]
    row.updated_at = now
    if outcome.ok:
        row.status, row.delivered_at, row.last_error = Delivery.Status.DELIVERED, now, ""
    elif outcome.permanent or row.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        row.status = Delivery.Status.FAILED
        row.last_error = f"Attempt {row.attempts}: {outcome.error}"[:2000]
    else:
        row.status = Delivery.Status.QUEUED
        row.next_attempt_at = now + backoff(row.attempts)
        row.last_error = f"Attempt {row.attempts}: {outcome.error}"[:2000]
    return Retry(row.pk, row.next_attempt_at) if row.status == Delivery.Status.QUEUED else None


def stranded(*, now: datetime | None = None) -> list[Delivery]:
    """Rows the broker may have lost: queued and overdue, or claimed by a worker that did not report back.

    A row left 'sending' may or may not have gone out; re-sending it is the price of never losing one (the pager's
    dedup key makes its re-send harmless).
    """
    now = now or timezone.now()
    overdue = now - timedelta(seconds=settings.NOTIFICATION_STUCK_AFTER_SECONDS)
    abandoned = now - timedelta(seconds=settings.NOTIFICATION_SENDING_TIMEOUT_SECONDS)
    with sealed_together():
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
