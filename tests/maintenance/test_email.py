"""Maintenance notices end to end over a real SMTP server on loopback: both bodies and the calendar invitation."""

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from icalendar import Calendar

from maintenance.models import MaintenanceOccurrence
from maintenance.services import maintenance_sweep, occurrence_reschedule, occurrence_transition
from portal.notifications.delivery import deliver
from portal.notifications.models import Delivery, Subscription
from tests.maintenance.conftest import T0

S = MaintenanceOccurrence.Status


def send_queued() -> None:
    deliver(list(Delivery.objects.filter(status=Delivery.Status.QUEUED).values_list("pk", flat=True)))


def invitation(message: EmailMessage) -> tuple[str, Calendar]:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return part.get_param("method"), Calendar.from_ical(part.get_content())


@pytest.fixture
def window(one_off, subscriber, admin):
    return one_off(
        start=datetime(2026, 11, 19, 2, tzinfo=UTC),
        hours=2,
        owner=admin,
        expected_impact="Checkout may be slow for a few minutes",
    )


def test_notice_reschedule_and_cancellation_update_one_calendar_event(window, smtp, commander, time_machine):
    occurrence = window.occurrences.get()
    time_machine.move_to(occurrence.notice_due_at, tick=False)  # 24 h before: the notice is due and sent
    maintenance_sweep()
    send_queued()

    [notice] = smtp.messages
    assert smtp.handler.recipients == [["stakeholders@example.com"]]
    assert notice["Subject"] == "[INFO] API: Scheduled maintenance: Load balancer swap, Thu 2026-11-19 02:00-04:00 UTC"
    text = notice.get_body(("plain",)).get_content()
    html = notice.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Load balancer swap" in body
        assert "Thu 2026-11-19 02:00-04:00 UTC" in body
        assert "Checkout may be slow for a few minutes" in body
    assert "<h1" in html
    method, calendar = invitation(notice)
    assert method == "REQUEST"
    assert calendar["METHOD"] == "REQUEST"
    [event] = calendar.walk("VEVENT")
    uid = str(event["UID"])
    assert uid == f"maintenance-{window.pk}-20261119T020000Z@127.0.0.1"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTART") == datetime(2026, 11, 19, 2, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 11, 19, 4, tzinfo=UTC)
    assert "DTSTART:20261119T020000Z" in calendar.to_ical().decode()  # UTC form, not a floating or zoned time
    assert any(part.get_filename() == "invite.ics" for part in notice.iter_attachments())

    new_start = datetime(2026, 11, 20, 2, tzinfo=UTC)
    time_machine.move_to(T0 + timedelta(days=2), tick=False)
    occurrence_reschedule(
        occurrence=occurrence,
        starts_at=new_start,
        ends_at=new_start + timedelta(hours=3),
        actor=commander,
        reason="vendor delay",
        now=T0 + timedelta(days=2),
    )
    send_queued()
    rescheduled = smtp.messages[1]
    assert "Maintenance rescheduled" in rescheduled["Subject"]
    assert "vendor delay" in rescheduled.get_body(("plain",)).get_content()
    method, calendar = invitation(rescheduled)
    [event] = calendar.walk("VEVENT")
    assert (method, str(event["UID"]), event["SEQUENCE"]) == ("REQUEST", uid, 1)
    assert event.decoded("DTSTART") == new_start
    assert "DTEND:20261120T050000Z" in calendar.to_ical().decode()

    occurrence_transition(occurrence=occurrence, to_status=S.CANCELLED, actor=commander, note="not needed")
    send_queued()
    cancelled = smtp.messages[2]
    assert "Maintenance cancelled" in cancelled["Subject"]
    method, calendar = invitation(cancelled)
    [event] = calendar.walk("VEVENT")
    assert (method, calendar["METHOD"], str(event["UID"]), event["SEQUENCE"]) == ("CANCEL", "CANCEL", uid, 2)
    assert event["STATUS"] == "CANCELLED"
    assert len(smtp.messages) == 3


def test_completion_notice_has_both_bodies_and_no_invitation(window, smtp, commander):
    occurrence = window.occurrences.get()
    for status in (S.NOTIFIED, S.IN_PROGRESS, S.COMPLETED):
        occurrence = occurrence_transition(
            occurrence=occurrence, to_status=status, actor=commander, override_reason="r"
        )
    send_queued()

    subjects = [message["Subject"] for message in smtp.messages]
    assert [s.split(": ")[1] for s in subjects] == [
        "Scheduled maintenance",
        "Maintenance started",
        "Maintenance completed",
    ]
    completed = smtp.messages[2]
    assert "Maintenance completed: Load balancer swap" in completed.get_body(("plain",)).get_content()
    assert "Maintenance completed" in completed.get_body(("html",)).get_content()
    assert not [p for p in completed.walk() if p.get_content_type() == "text/calendar"]


def attendees(calendar: Calendar) -> list[str]:
    [event] = calendar.walk("VEVENT")
    found = event.get("ATTENDEE", [])
    return sorted(str(address) for address in (found if isinstance(found, list) else [found]))


def test_invitations_name_their_attendees(window, smtp, commander, time_machine):
    # RFC 5546: a REQUEST carries an ATTENDEE (mail clients match the recipient by it); a CANCEL of the whole event
    # names every attendee.
    Subscription.objects.create(email="ops-list@example.com", event_kinds=["maintenance.scheduled",
                                                                          "maintenance.cancelled"])  # fmt: skip
    occurrence = window.occurrences.get()
    time_machine.move_to(occurrence.notice_due_at, tick=False)
    maintenance_sweep()
    send_queued()
    requests = {message["To"]: invitation(message)[1] for message in smtp.messages}
    assert {to: attendees(calendar) for to, calendar in requests.items()} == {
        "stakeholders@example.com": ["mailto:stakeholders@example.com"],
        "ops-list@example.com": ["mailto:ops-list@example.com"],
    }
    [event] = requests["ops-list@example.com"].walk("VEVENT")
    assert event["ATTENDEE"].params["RSVP"] == "FALSE"

    occurrence_transition(occurrence=occurrence, to_status=S.CANCELLED, actor=commander)
    send_queued()
    cancels = list(smtp.messages[2:])
    assert len(cancels) == 2
    for message in cancels:
        method, calendar = invitation(message)
        assert method == "CANCEL"
        assert attendees(calendar) == ["mailto:ops-list@example.com", "mailto:stakeholders@example.com"]
