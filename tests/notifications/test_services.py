import re
from collections import Counter

import pytest
from auditlog.models import LogEntry
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from portal.accounts.roles import Role
from portal.errors import ConflictError
from portal.notifications.models import Channel, Delivery, EventKind, Notification, Severity, Subscription
from portal.notifications.services import delivery_batches, delivery_retry, notify


def kinds(notification: Notification) -> Counter:
    return Counter(row.channel.kind for row in notification.deliveries.select_related("channel"))


def test_critical_goes_to_pager_chat_email_and_sms_of_each_recipient(live_channels, make_user, api_service):
    oncall = [make_user(Role.RESPONDER, phone="+14155550100"), make_user(Role.RESPONDER, phone="+14155550101")]

    notification = notify(
        event=EventKind.INCIDENT_OPENED, severity=Severity.CRITICAL, title="API down", services=[api_service],
        recipients=oncall,
    )  # fmt: skip

    assert kinds(notification) == {"pager": 1, "chat": 2, "email": 2, "sms": 2}
    chat = notification.deliveries.filter(channel__kind=Channel.Kind.CHAT)
    assert set(chat.values_list("address", flat=True)) == {"#critical", "#incidents"}  # severity's and the seeds'
    assert set(notification.deliveries.values_list("status", flat=True)) == {Delivery.Status.QUEUED}


def test_warning_goes_to_chat_and_email_and_info_to_chat_only(live_channels, make_user):
    person = make_user(Role.RESPONDER)
    warning = notify(event=EventKind.REMINDER, severity=Severity.WARNING, title="Update due", recipients=[person])
    info = notify(event=EventKind.REMINDER, severity=Severity.INFO, title="FYI", recipients=[person])

    assert kinds(warning) == {"chat": 1, "email": 1}
    assert warning.deliveries.get(channel__kind="chat").address == "#warnings"
    assert kinds(info) == {"chat": 1}
    assert info.deliveries.get().address == "#info"


def test_disabled_channels_are_not_used(db, make_user):
    # Freshly seeded: only email is enabled (the others need a URL or key first).
    notification = notify(
        event=EventKind.INCIDENT_OPENED, severity=Severity.CRITICAL, title="x", recipients=[make_user(Role.VIEWER)]
    )
    assert kinds(notification) == {"email": 1}


def test_subscribers_get_email_for_their_services_and_event_kinds(live_channels, make_user, api_service):
    from incidents.models import Service

    web = Service.objects.create(name="Web", slug="web")
    stakeholder = make_user(Role.VIEWER, email="cfo@example.com")
    api_sub = Subscription.objects.create(user=stakeholder, event_kinds=[EventKind.INCIDENT_OPENED])
    api_sub.services.set([api_service])
    Subscription.objects.create(email="all-hands@example.com", event_kinds=[EventKind.INCIDENT_OPENED])
    web_sub = Subscription.objects.create(email="web-team@example.com", event_kinds=[EventKind.INCIDENT_OPENED])
    web_sub.services.set([web])
    Subscription.objects.create(email="maint@example.com", event_kinds=[EventKind.MAINTENANCE_SCHEDULED])
    Subscription.objects.create(email="gone@example.com", event_kinds=[EventKind.INCIDENT_OPENED], active=False)

    notification = notify(
        event=EventKind.INCIDENT_OPENED, severity=Severity.INFO, title="API slow", services=[api_service]
    )

    emails = notification.deliveries.filter(channel__kind=Channel.Kind.EMAIL)
    assert {row.recipient_key for row in emails} == {f"user:{stakeholder.pk}", "email:all-hands@example.com"}


def test_subscribers_are_matched_by_whole_event_kind_in_the_database(live_channels):
    """Only the subscriptions to the event are read (their services' read names no other), and a kind whose name
    ends another's ("reminder", "oncall.reminder"; "slo.burn", "slo.burn_ended") matches only itself."""
    both = Subscription.objects.create(email="sre@example.com", event_kinds=[EventKind.SLO_BURN, EventKind.REMINDER])
    ended = Subscription.objects.create(email="slo@example.com", event_kinds=[EventKind.SLO_BURN_ENDED])
    oncall = Subscription.objects.create(email="oncall@example.com", event_kinds=[EventKind.ONCALL_REMINDER])
    for i in range(5):
        Subscription.objects.create(email=f"maint{i}@example.com", event_kinds=[EventKind.MAINTENANCE_SCHEDULED])

    def subscribers(event: EventKind) -> tuple[set[str], set[int]]:
        """Who gets the email, and whose services were read."""
        with CaptureQueriesContext(connection) as ctx:
            notification = notify(event=event, severity=Severity.INFO, title="x")
        emails = notification.deliveries.filter(channel__kind=Channel.Kind.EMAIL)
        prefetch = next(q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT ("notifications_sub'))
        read = re.search(r"IN \(([\d, ]+)\)", prefetch)
        return {row.address for row in emails}, {int(pk) for pk in read.group(1).split(",")} if read else set()

    for event, expected in (
        (EventKind.REMINDER, both), (EventKind.ONCALL_REMINDER, oncall), (EventKind.SLO_BURN, both),
        (EventKind.SLO_BURN_ENDED, ended),
    ):  # fmt: skip
        assert subscribers(event) == ({expected.email}, {expected.pk})


def test_a_recipient_who_also_subscribes_gets_one_email(live_channels, make_user):
    person = make_user(Role.RESPONDER)
    Subscription.objects.create(user=person, event_kinds=[EventKind.INCIDENT_OPENED])

    notification = notify(event=EventKind.INCIDENT_OPENED, severity=Severity.WARNING, title="x", recipients=[person])

    assert notification.deliveries.filter(channel__kind=Channel.Kind.EMAIL).count() == 1


def test_deliveries_are_enqueued_on_commit_with_emails_batched(
    live_channels, make_user, django_capture_on_commit_callbacks
):
    people = [make_user(Role.RESPONDER, phone=f"+1415555010{i}") for i in range(3)]

    with django_capture_on_commit_callbacks() as callbacks:
        notification = notify(event=EventKind.REMINDER, severity=Severity.CRITICAL, title="x", recipients=people)

    # one batch for the three emails, one each for pager, chat (#critical) and the three SMS
    assert len(callbacks) == 1 + 1 + 1 + 3
    batches = delivery_batches(list(notification.deliveries.select_related("channel")))
    assert sorted(len(batch) for batch in batches) == [1, 1, 1, 1, 1, 3]


def test_a_rolled_back_change_sends_nothing(live_channels, make_user, django_capture_on_commit_callbacks):
    person = make_user(Role.RESPONDER)

    def failing_change() -> None:
        with transaction.atomic():
            notify(event=EventKind.INCIDENT_OPENED, severity=Severity.CRITICAL, title="x", recipients=[person])
            raise RuntimeError("the incident could not be saved")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        failing_change()

    assert callbacks == []
    assert not Delivery.objects.exists()
    assert not Notification.objects.exists()


def test_retry_requeues_a_failed_delivery_and_is_audited(live_channels, make_user, django_capture_on_commit_callbacks):
    responder = make_user(Role.RESPONDER)
    notification = notify(event=EventKind.TEST, severity=Severity.INFO, title="x")
    row = notification.deliveries.get()
    row.status, row.attempts, row.last_error = Delivery.Status.FAILED, 6, "HTTP 500"
    row.save()

    from auditlog.context import set_actor

    with set_actor(responder), django_capture_on_commit_callbacks() as callbacks:
        delivery_retry(delivery=row, actor=responder)

    row.refresh_from_db()
    assert (row.status, row.attempts) == (Delivery.Status.QUEUED, 0)
    assert "Retried by" in row.last_error
    assert len(callbacks) == 1
    entry = LogEntry.objects.get_for_object(row).latest("pk")
    assert entry.actor == responder
    assert entry.changes_dict["status"] == ["failed", "queued"]


def test_only_failed_deliveries_can_be_retried(live_channels, make_user):
    row = notify(event=EventKind.TEST, severity=Severity.INFO, title="x").deliveries.get()
    with pytest.raises(ConflictError, match="Only failed deliveries"):
        delivery_retry(delivery=row, actor=make_user(Role.RESPONDER))
