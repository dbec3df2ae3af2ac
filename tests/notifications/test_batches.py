"""Email batches: each row saved and audited once per attempt, outcomes recorded as they go (so an interrupted batch
re-sends only what it had not sent), large fan-outs split so worker processes share them. Over a real SMTP server."""

import _thread
import signal
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.accounts.roles import Role
from portal.notifications import delivery, senders
from portal.notifications.delivery import deliver, stranded
from portal.notifications.models import Channel, Delivery, EventKind, Severity, Subscription
from portal.notifications.services import delivery_batches, notify


@pytest.fixture
def mailing(db):
    """A notification to `n` mailing-list subscribers (and the #info chat channel, as routed)."""

    def make(n: int) -> list[Delivery]:
        for i in range(n):
            Subscription.objects.create(email=f"list{i}@example.com", event_kinds=[EventKind.MAINTENANCE_SCHEDULED])
        notification = notify(event=EventKind.MAINTENANCE_SCHEDULED, severity=Severity.INFO, title="Tuesday window")
        return list(notification.deliveries.select_related("channel").order_by("pk"))

    return make


def audit_entries(rows: list[Delivery]) -> dict[int, list[LogEntry]]:
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Delivery), object_pk__in=[str(row.pk) for row in rows]
    ).order_by("pk")
    found: dict[int, list[LogEntry]] = {row.pk: [] for row in rows}
    for entry in entries:
        found[int(entry.object_pk)].append(entry)
    return found


def test_each_row_is_saved_and_audited_once(live_channels, smtp, mailing, monkeypatch):
    monkeypatch.setattr(delivery, "RECORD_EVERY_SECONDS", 60)  # one group, however slow this machine is
    rows = mailing(6)
    with CaptureQueriesContext(connection) as ctx:
        deliver([row.pk for row in rows])
    updates = [q for q in ctx.captured_queries if q["sql"].startswith('UPDATE "notifications_delivery"')]
    assert len(updates) == 2  # the batch's claim, then the group's outcomes
    assert len(smtp.messages) == 6
    for entries in audit_entries(rows).values():
        assert len(entries) == 1
        assert entries[0].changes == {"status": ["sending", "delivered"]}
    saved = Delivery.objects.filter(pk__in=[row.pk for row in rows], channel__kind=Channel.Kind.EMAIL)
    assert {(row.address, row.status, bool(row.response), bool(row.delivered_at)) for row in saved} == {
        (f"list{i}@example.com", "delivered", True, True) for i in range(6)
    }


def test_a_message_costs_one_query_and_a_group_of_outcomes_one_seal(live_channels, smtp, mailing, monkeypatch):
    monkeypatch.setattr(delivery, "RECORD_EVERY_SECONDS", 60)  # one group, however slow this machine is
    rows = mailing(12)
    emails = [row.pk for row in rows if row.channel.kind == Channel.Kind.EMAIL]

    def queries(ids: list[int]) -> list[str]:
        with CaptureQueriesContext(connection) as ctx:
            deliver(ids)
        return [query["sql"] for query in ctx.captured_queries]

    four, eight = queries(emails[:4]), queries(emails[4:])

    assert len(eight) - len(four) == 4 * 1  # its audit entry; the group's rows are written in one statement
    assert [sql for sql in eight if sql.startswith('INSERT INTO "core_auditseal"')] == eight[-3:-2]
    assert len(smtp.messages) == 12


def test_an_interrupted_batch_resends_only_what_it_had_not_sent(live_channels, smtp, mailing):
    rows = mailing(6)
    original = smtp.handler.handle_DATA

    async def accept_then_interrupt(server, session, envelope):  # type: ignore[no-untyped-def]
        reply = await original(server, session, envelope)
        if len(smtp.messages) == 3:
            _thread.interrupt_main()  # the worker stops mid-batch, as on a SIGINT or a time limit
        return reply

    smtp.handler.handle_DATA = accept_then_interrupt
    # interrupt_main() raises only under Python's own SIGINT handler, which a library used earlier in the run may
    # have replaced.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            deliver([row.pk for row in rows])
    finally:
        signal.signal(signal.SIGINT, previous)

    first_pass = [message["To"] for message in smtp.messages]
    delivered = set(Delivery.objects.filter(status=Delivery.Status.DELIVERED).values_list("address", flat=True))
    # Messages sent before the interruption are recorded as delivered (the one in flight may not be).
    assert len(delivered) >= 2
    assert delivered <= set(first_pass)
    unsent = Delivery.objects.exclude(status=Delivery.Status.DELIVERED)
    assert set(unsent.values_list("status", flat=True)) == {Delivery.Status.SENDING}

    smtp.handler.handle_DATA = original
    later = timezone.now() + timedelta(seconds=settings.NOTIFICATION_SENDING_TIMEOUT_SECONDS + 1)
    requeued = stranded(now=later)
    deliver([row.pk for row in requeued], now=later)

    second_pass = [message["To"] for message in smtp.messages[len(first_pass) :]]
    assert not delivered & set(second_pass)  # nothing recorded as delivered went out again
    assert set(first_pass) | set(second_pass) == {f"list{i}@example.com" for i in range(6)}
    assert not Delivery.objects.exclude(status=Delivery.Status.DELIVERED).exists()


def test_a_large_fan_out_is_split_so_worker_processes_share_it(
    live_channels, mailing, settings, make_user, django_capture_on_commit_callbacks
):
    settings.NOTIFICATION_EMAIL_BATCH_SIZE = 2
    with django_capture_on_commit_callbacks() as callbacks:
        rows = mailing(5)
    emails = [row for row in rows if row.channel.kind == Channel.Kind.EMAIL]
    assert sorted(len(batch) for batch in delivery_batches(emails)) == [1, 2, 2]
    chats = [row.address for row in rows if row.channel.kind == Channel.Kind.CHAT]
    assert sorted(chats) == ["#info", "#maintenance"]  # routed by severity, and by event kind
    assert len(callbacks) == 3 + len(chats)  # a task per email batch, and one per chat message


def test_a_person_still_gets_one_email_per_notification(live_channels, smtp, make_user):
    person = make_user(Role.RESPONDER, email="rami@example.com")
    notification = notify(event=EventKind.INCIDENT_OPENED, severity=Severity.WARNING, title="x", recipients=[person])
    deliver(list(notification.deliveries.values_list("pk", flat=True)))
    deliver(list(notification.deliveries.values_list("pk", flat=True)))  # a redelivered task message
    assert [message["To"] for message in smtp.messages] == ["rami@example.com"]


def test_a_groups_outcomes_are_saved_together_and_each_audited_from_its_claim(live_channels, mailing, time_machine):
    """Delivered, failed for good and to be retried, recorded in one statement: each row's fields as the outcome says,
    and an entry per row naming the status it was claimed in and the one it has now."""
    time_machine.move_to("2026-11-16T12:00:00Z", tick=False)
    ids = [row.pk for row in mailing(3) if row.channel.kind == Channel.Kind.EMAIL]
    claimed = delivery.claim(ids, now=timezone.now())
    outcomes = [
        senders.Outcome(ok=True, address="list0@example.com", response="250 OK"),
        senders.failure("550 no such mailbox", permanent=True, address="list1@example.com"),
        senders.failure("421 try later", address="list2@example.com"),
    ]
    with CaptureQueriesContext(connection) as ctx:
        retries = delivery.record_outcomes(list(zip(claimed, outcomes, strict=True)))

    updates = [q for q in ctx.captured_queries if q["sql"].startswith('UPDATE "notifications_delivery"')]
    assert len(updates) == 1
    rows = {row.address: row for row in Delivery.objects.filter(pk__in=ids)}
    delivered, failed, retried = rows["list0@example.com"], rows["list1@example.com"], rows["list2@example.com"]
    assert (delivered.status, delivered.response, delivered.delivered_at) == ("delivered", "250 OK", timezone.now())
    assert (failed.status, failed.last_error) == ("failed", "Attempt 1: 550 no such mailbox")
    assert (retried.status, retried.last_error) == ("queued", "Attempt 1: 421 try later")
    assert retries == [delivery.Retry(retried.pk, retried.next_attempt_at)]
    assert {row.updated_at for row in rows.values()} == {timezone.now()}
    entries = audit_entries(list(rows.values()))
    assert [entry.changes for entry in entries[delivered.pk]] == [{"status": ["sending", "delivered"]}]
    assert [entry.changes for entry in entries[failed.pk]] == [{"status": ["sending", "failed"]}]
    assert [entry.changes for entry in entries[retried.pk]] == [{"status": ["sending", "queued"]}]
