"""Notify people: record what must be delivered in the caller's transaction, hand it to Celery after commit."""

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from contacts.models import Team
from incidents.models import Service
from portal.accounts.models import User
from portal.errors import ApplicationError, ConflictError
from portal.locking import lock_row
from portal.memo import memo
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
from portal.notifications.status_links import (
    CONFIRM_MAX_AGE,
    STATUS_KEY_PREFIX,
    confirm_token_data,
    confirm_url,
    status_page_url,
    unsubscribe_token_pk,
)

CONFIRM_TITLE = "Confirm your subscription to Broxiva status updates"

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
    team: Team | None = None,
    channels: Iterable[Channel] | None = None,
    public_title: str = "",
    now: datetime | None = None,
) -> Notification:
    """Record a notification and one delivery per channel and recipient; never talks to the network.

    Channels come from the routing rules for `severity`: email and SMS go to each of `recipients`, chat to the
    channel, the pager to its service. Stakeholders subscribed to `event` on any of `services` get email too.
    Deliveries are enqueued when the caller's transaction commits; a rollback sends nothing. `calendar` (an
    iCalendar object with a METHOD) goes with every email as an invitation. `channel_kinds` limits the routed
    channels to those kinds (a test page goes to the person's pager, email and phone, not to team channels).

    `team` owns what this is about (the alert catalogue's owner of an incident's alerts): when the event reaches chat,
    the team's Slack channel hears of it too (through the enabled chat channel named after it), and a page goes to the
    team's PagerDuty service instead of the pager channel's own when the team has a routing key.
    `channels` replaces the routed ones when the caller names its channel (a procedure step 'Post in #incidents').
    `public_title`: the summary may leave the company under this title (the status page's words, without the
    internal reference and severity), so the status page's confirmed subscribers get it too.
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
            public_title=public_title[:200],
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
        named = None if channels is None else list(channels)
        rows = _routed_deliveries(notification, recipients, now, kinds, team, named) + _subscriber_deliveries(
            notification, services, now
        )
        deliveries = Delivery.objects.bulk_create(_unique(rows))
        enqueue_on_commit(deliveries)
    return notification


def _routed_deliveries(
    notification: Notification,
    recipients: Sequence[User],
    now: datetime,
    kinds: set[str] | None,
    team: Team | None,
    named: list[Channel] | None,
) -> list[Delivery]:
    if named is None:
        named = routed_channels(event=notification.event_kind, severity=notification.severity)
    channels = [channel for channel in named if kinds is None or channel.kind in kinds]
    rows = []
    for channel in channels:
        if channel.kind == Channel.Kind.CHAT:
            rows.append(
                _row(notification, channel, now, key=f"chat:{channel.chat_channel}", address=channel.chat_channel)
            )
        elif channel.kind == Channel.Kind.PAGER:
            rows.extend(
                _pager_row(notification, channel, now, paged) for paged in _pager_teams(notification, channel, team)
            )
        else:  # email and SMS reach people; their address is read when sending, so fixes made meanwhile count
            rows.extend(_row(notification, channel, now, key=f"user:{user.pk}", user=user) for user in recipients)
    if team is not None and any(channel.kind == Channel.Kind.CHAT for channel in channels):
        rows.extend(_team_chat(notification, team, now))
    return rows


def _pager_teams(notification: Notification, channel: Channel, team: Team | None) -> list[Team | None]:
    """Where a page goes: the owner team's PagerDuty service while it has a key, else the channel's own (None). An
    acknowledge or resolve goes wherever this dedup key was triggered through the channel, even if the owner team
    changed since (an alert of another team joined the group): PagerDuty matches it by key within one service."""
    owner = team if team is not None and team.pagerduty_routing_key else None
    if notification.pager_action == PagerAction.TRIGGER:
        return [owner]
    paged = set(
        Delivery.objects.filter(
            channel=channel, notification__dedup_key=notification.dedup_key,
            notification__pager_action=PagerAction.TRIGGER,
        ).order_by().values_list("team_id", flat=True).distinct()
    )  # fmt: skip
    if not paged:
        return [owner]
    ids = paged - {None}
    teams = {row.pk: row for row in Team.objects.filter(pk__in=ids)} if ids else {}
    return [teams.get(pk) for pk in sorted(paged, key=lambda pk: pk or 0)]


def _pager_row(notification: Notification, channel: Channel, now: datetime, team: Team | None) -> Delivery:
    if team is None:
        return _row(notification, channel, now, key=f"pager:{channel.pk}", address=channel.name)
    key, address = f"pager:{channel.pk}:team:{team.pk}", f"{team.name} (PagerDuty)"
    return _row(notification, channel, now, key=key, address=address, team=team)


def _team_chat(notification: Notification, team: Team, now: datetime) -> list[Delivery]:
    """The owner team's Slack channel, beside the routed ones (which keep #incidents informed)."""
    if not team.slack_channel:
        return []
    channel = Channel.objects.filter(kind=Channel.Kind.CHAT, enabled=True, chat_channel=team.slack_channel).first()
    if channel is None:
        logger.warning("No enabled chat channel for %s's %s: %s reaches the default route only", team,
                       team.slack_channel, notification)  # fmt: skip
        return []
    return [
        _row(notification, channel, now, key=f"chat:{channel.chat_channel}", address=channel.chat_channel, team=team)
    ]


@memo
def routed_channels(*, event: str, severity: str, enabled_only: bool = True) -> list[Channel]:
    """The channels whose routing rules take this event kind at this severity, each once."""
    rules = RoutingRule.objects.filter(Q(severity=severity) | Q(severity="")).select_related("channel")
    if enabled_only:
        rules = rules.filter(channel__enabled=True)
    # Event kinds are a short JSON list; matching them here keeps the query portable across SQLite and PostgreSQL.
    channels = {rule.channel_id: rule.channel for rule in rules if rule.matches(event, severity)}
    return sorted(channels.values(), key=lambda channel: (channel.kind, channel.name))


def _subscriber_deliveries(notification: Notification, services: Sequence[Service], now: datetime) -> list[Delivery]:
    channel, wanted = _subscribers(
        event=notification.event_kind,
        public=bool(notification.public_title),
        service_ids=tuple(sorted(service.pk for service in services)),
    )
    if channel is None:
        if wanted:
            logger.warning("No enabled email channel: %d subscribers of %s get nothing", len(wanted), notification)
        return []
    return [
        _row(notification, channel, now, key=f"user:{sub.user_id}", user=sub.user)
        if sub.user_id
        else _row(notification, channel, now, key=f"{_key_prefix(sub)}{sub.email.lower()}", address=sub.email)
        for sub in wanted
    ]


@memo
def _subscribers(
    *, event: str, public: bool, service_ids: tuple[int, ...]
) -> tuple[Channel | None, list[Subscription]]:
    """The email channel and the active subscriptions to `event` on these services (and, when `public`, the status
    page's subscribers); a storm's notifications on the same services share one read."""
    channel = Channel.objects.filter(kind=Channel.Kind.EMAIL, enabled=True).first()
    subscriptions = Subscription.objects.filter(active=True).select_related("user").prefetch_related("services")
    if not public:
        subscriptions = subscriptions.filter(public=False)
    if service_ids:
        subscriptions = subscriptions.filter(Q(services__in=service_ids) | Q(services__isnull=True)).distinct()
    else:
        subscriptions = subscriptions.filter(services__isnull=True)
    # Event kinds are a JSON list of plain names, found in its text with their quotes: JSON `contains` is PostgreSQL's
    # only. Filtered in Python, every subscriber of any kind was read, for each of a storm's sets of services.
    wanted = Q(public=True) | Q(kinds_text__contains=f'"{EventKind(event)}"')
    return channel, list(subscriptions.annotate(kinds_text=Cast("event_kinds", TextField())).filter(wanted))


def _key_prefix(subscription: Subscription) -> str:
    """Status-page subscribers' emails (recipient key `status:`) carry the public template and an unsubscribe link."""
    return STATUS_KEY_PREFIX if subscription.public else "email:"


def _row(
    notification: Notification,
    channel: Channel,
    now: datetime,
    *,
    key: str,
    user: User | None = None,
    address: str = "",
    team: Team | None = None,
) -> Delivery:
    return Delivery(
        notification=notification,
        channel=channel,
        user=user,
        address=address,
        team=team,
        recipient_key=key,
        next_attempt_at=now,
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


# The public status page's email subscriptions. Nothing is stored before the address's owner confirms: the signed
# link carries the address and services, so an unconfirmed address leaves no subscription behind.


def status_subscription_request(
    *, email: str, services: Iterable[Service] = (), now: datetime | None = None
) -> Delivery:
    """Email a signed confirmation link to `email` for public updates about `services` (none: all)."""
    now = now or timezone.now()
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError("Enter a valid email address.", field="email") from None
    channel = Channel.objects.filter(kind=Channel.Kind.EMAIL, enabled=True).first()
    if channel is None:
        raise ApplicationError("Email subscriptions are not available right now.", field="email")
    link = confirm_url(email, [service.slug for service in services])
    with transaction.atomic():
        notification = Notification.objects.create(
            event_kind=EventKind.STATUS_SUBSCRIPTION,
            severity=Severity.INFO,
            title=CONFIRM_TITLE,
            public_title=CONFIRM_TITLE,
            summary=(
                f"Someone (hopefully you) asked to receive Broxiva status updates at this address. Confirm within "
                f"{CONFIRM_MAX_AGE.days} days: {link}\nIf it was not you, ignore this email: nothing was stored."
            ),
            url=status_page_url(),
            source="status-page",
        )
        delivery = Delivery.objects.create(
            notification=notification, channel=channel, address=email, next_attempt_at=now,
            recipient_key=f"{STATUS_KEY_PREFIX}{email.lower()}",
        )  # fmt: skip
        enqueue_on_commit([delivery])
    return delivery


def status_subscription_confirm(*, token: str) -> Subscription:
    """Create (or replace the services of) the address's public subscription from a confirmation link."""
    data = confirm_token_data(token)
    services = list(Service.objects.filter(slug__in=data["services"]))
    with transaction.atomic():
        subscription, _ = Subscription.objects.select_for_update().get_or_create(
            public=True, email__iexact=data["email"],
            defaults={"email": data["email"], "event_kinds": [EventKind.INCIDENT_UPDATED]},
        )  # fmt: skip
        subscription.active = True
        subscription.confirmed_at = subscription.confirmed_at or timezone.now()
        subscription.save()
        subscription.services.set(services)
    return subscription


def status_subscription_cancel(*, token: str) -> bool:
    """Delete the public subscription of an unsubscribe link, and its address with it; False if already gone."""
    pk = unsubscribe_token_pk(token)
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().filter(public=True, pk=pk).first()
        if subscription is None:
            return False
        subscription.delete()  # a model delete, which auditlog records
    return True
