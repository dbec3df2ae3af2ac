"""Notify people: record what must be delivered in the caller's transaction, hand it to Celery after commit."""

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from incidents.models import Service
from portal.accounts.models import User
from portal.errors import ApplicationError, ConflictError
from portal.locking import lock_row
from portal.notifications.models import (
    Channel,
    Delivery,
    EventKind,
    Notification,
    PagerAction,
    RoutingRule,
    Severity,
    Subscription,
)

logger = logging.getLogger(__name__)


def notify(
    *,
    event: EventKind,
    severity: Severity,
    title: str,
    summary: str = "",
    url: str = "",
    services: Iterable[Service] = (),
    recipients: Iterable[User] = (),
    source: str = "",
    dedup_key: str = "",
    pager_action: PagerAction = PagerAction.TRIGGER,
    calendar: str = "",
    created_by: User | None = None,
    channel_kinds: Iterable[str] | None = None,
    now: datetime | None = None,
) -> Notification:
    """Record a notification and one delivery per channel and recipient; never talks to the network.

    Channels come from the routing rules for `severity`: email and SMS go to each of `recipients`, chat to the
    channel, the pager to its service. Stakeholders subscribed to `event` on any of `services` get email too.
    Deliveries are enqueued when the caller's transaction commits; a rollback sends nothing. `calendar` (an
    iCalendar object with a METHOD) goes with every email as an invitation. `channel_kinds` limits the routed
    channels to those kinds (a test page goes to the person's pager, email and phone, not to team channels).
    """
    now = now or timezone.now()
    services = list(services)
    recipients = list(recipients)
    # No savepoint: inside a caller's transaction (alert intake declares many incidents) a failure fails it anyway.
    with transaction.atomic(savepoint=False):
        notification = Notification.objects.create(
            event_kind=event,
            severity=severity,
            title=title[:200],
            summary=summary,
            url=url,
            source=source,
            dedup_key=dedup_key or source,
            pager_action=pager_action,
            calendar=calendar,
            created_by=created_by,
        )
        # A new row has neither yet: adding only what there is spares a query for each empty set.
        if services:
            notification.services.add(*services)
        if recipients:
            notification.recipients.add(*recipients)
        kinds = None if channel_kinds is None else set(channel_kinds)
        rows = _routed_deliveries(notification, recipients, now, kinds) + _subscriber_deliveries(
            notification, services, now
        )
        deliveries = Delivery.objects.bulk_create(_unique(rows))
        enqueue_on_commit(deliveries)
    return notification


def _routed_deliveries(
    notification: Notification, recipients: Sequence[User], now: datetime, kinds: set[str] | None
) -> list[Delivery]:
    rows = []
    for channel in routed_channels(event=notification.event_kind, severity=notification.severity):
        if kinds is not None and channel.kind not in kinds:
            continue
        if channel.kind == Channel.Kind.CHAT:
            rows.append(
                _row(notification, channel, now, key=f"chat:{channel.chat_channel}", address=channel.chat_channel)
            )
        elif channel.kind == Channel.Kind.PAGER:
            rows.append(_row(notification, channel, now, key=f"pager:{channel.pk}", address=channel.name))
        else:  # email and SMS reach people; their address is read when sending, so fixes made meanwhile count
            rows.extend(_row(notification, channel, now, key=f"user:{user.pk}", user=user) for user in recipients)
    return rows


def routed_channels(*, event: str, severity: str, enabled_only: bool = True) -> list[Channel]:
    """The channels whose routing rules take this event kind at this severity, each once."""
    rules = RoutingRule.objects.filter(Q(severity=severity) | Q(severity="")).select_related("channel")
    if enabled_only:
        rules = rules.filter(channel__enabled=True)
    # Event kinds are a short JSON list; matching them here keeps the query portable across SQLite and PostgreSQL.
    channels = {rule.channel_id: rule.channel for rule in rules if rule.matches(event, severity)}
    return sorted(channels.values(), key=lambda channel: (channel.kind, channel.name))


def _subscriber_deliveries(notification: Notification, services: Sequence[Service], now: datetime) -> list[Delivery]:
    channel = Channel.objects.filter(kind=Channel.Kind.EMAIL, enabled=True).first()
    subscriptions = Subscription.objects.filter(active=True).select_related("user").prefetch_related("services")
    if services:
        subscriptions = subscriptions.filter(Q(services__in=services) | Q(services__isnull=True)).distinct()
    else:
        subscriptions = subscriptions.filter(services__isnull=True)
    # Event kinds are a short JSON list; filtering them here keeps the query portable across SQLite and PostgreSQL.
    wanted = [sub for sub in subscriptions if notification.event_kind in sub.event_kinds]
    if channel is None:
        if wanted:
            logger.warning("No enabled email channel: %d subscribers of %s get nothing", len(wanted), notification)
        return []
    return [
        _row(notification, channel, now, key=f"user:{sub.user_id}", user=sub.user)
        if sub.user_id
        else _row(notification, channel, now, key=f"email:{sub.email.lower()}", address=sub.email)
        for sub in wanted
    ]


def _row(
    notification: Notification,
    channel: Channel,
    now: datetime,
    *,
    key: str,
    user: User | None = None,
    address: str = "",
) -> Delivery:
    return Delivery(
        notification=notification, channel=channel, user=user, address=address, recipient_key=key, next_attempt_at=now
    )


def _unique(rows: list[Delivery]) -> list[Delivery]:
    """A person both routed to and subscribed gets one message per channel."""
    seen: dict[tuple[int, str], Delivery] = {}
    for row in rows:
        seen.setdefault((row.channel_id, row.recipient_key), row)
    return list(seen.values())


def delivery_batches(deliveries: Sequence[Delivery]) -> list[list[int]]:
    """Email deliveries of one notification share batches of NOTIFICATION_EMAIL_BATCH_SIZE (one SMTP connection
    each), so a large fan-out is spread over the worker processes; every other delivery stands alone."""
    batches: dict[tuple[int, int], list[int]] = {}
    singles = []
    for delivery in deliveries:
        if delivery.channel.kind == Channel.Kind.EMAIL:
            batches.setdefault((delivery.notification_id, delivery.channel_id), []).append(delivery.pk)
        else:
            singles.append([delivery.pk])
    size = settings.NOTIFICATION_EMAIL_BATCH_SIZE
    return [ids[i : i + size] for ids in batches.values() for i in range(0, len(ids), size)] + singles


def enqueue_on_commit(deliveries: Sequence[Delivery]) -> None:
    from portal.notifications.tasks import deliver_notifications

    def send(ids: list[int]) -> Callable[[], None]:
        def publish() -> None:
            deliver_notifications.delay(ids)

        return publish

    for batch in delivery_batches(deliveries):
        # robust: a broker outage must not fail the caller's request; the rows stay queued and the sweeper sends them.
        transaction.on_commit(send(batch), robust=True)


def delivery_retry(*, delivery: Delivery, actor: User, now: datetime | None = None) -> Delivery:
    """Send a failed delivery again (audited through the status change)."""
    with transaction.atomic():
        delivery = lock_row(Delivery.objects.select_related("channel"), delivery.pk)
        if delivery.status != Delivery.Status.FAILED:
            raise ConflictError(f"Only failed deliveries can be retried; this one is {delivery.get_status_display()}.")
        if not delivery.channel.enabled:
            raise ApplicationError(
                f"Channel {delivery.channel} is disabled; enable it before retrying.", field="channel"
            )
        delivery.status = Delivery.Status.QUEUED
        delivery.attempts = 0
        delivery.next_attempt_at = now or timezone.now()
        delivery.last_error = f"Retried by {actor.get_username()}; previously: {delivery.last_error}"[:2000]
        delivery.save()
        enqueue_on_commit([delivery])
    return delivery
