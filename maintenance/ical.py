"""iCalendar (RFC 5545/5546) for maintenance: invitations mailed with notices, and the calendar feed.

An occurrence keeps one UID for life (its window and original start), and its SEQUENCE grows with every change
attendees must see, so calendars update or cancel the event they already hold instead of adding another.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from icalendar import Calendar, Event, vCalAddress

from maintenance.models import MaintenanceOccurrence
from maintenance.policy import FreezePeriod

PRODID = "-//Broxiva//Ops Portal//EN"


def _host() -> str:
    return urlsplit(settings.PORTAL_BASE_URL).hostname or "localhost"


def occurrence_uid(occurrence: MaintenanceOccurrence) -> str:
    return f"maintenance-{occurrence.window_id}-{occurrence.original_start:%Y%m%dT%H%M%SZ}@{_host()}"


def occurrence_url(occurrence: MaintenanceOccurrence) -> str:
    return settings.PORTAL_BASE_URL + reverse("maintenance-occurrence", args=[occurrence.pk])


def _calendar(method: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    if method:
        calendar.add("method", method)
    return calendar


def _occurrence_event(occurrence: MaintenanceOccurrence, *, now: datetime, cancelled: bool = False) -> Event:
    window = occurrence.window
    services = ", ".join(service.name for service in window.services.all()) or "no service listed"
    event = Event()
    event.add("uid", occurrence_uid(occurrence))
    event.add("sequence", occurrence.sequence)
    event.add("dtstamp", now)
    event.add("dtstart", occurrence.starts_at)
    event.add("dtend", occurrence.ends_at)
    event.add("summary", f"Maintenance: {window.name}")
    description = [f"Affected services: {services}"]
    if occurrence.expected_impact:
        description.append(f"Expected impact: {occurrence.expected_impact}")
    description.append(f"Details: {occurrence_url(occurrence)}")
    event.add("description", "\n".join(description))
    event.add("url", occurrence_url(occurrence))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT")  # a notice, not a meeting: it does not make attendees busy
    _, sender = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = vCalAddress(f"mailto:{sender}")
    organizer.params["cn"] = "Broxiva Ops Portal"
    event.add("organizer", organizer)
    return event


def occurrence_invitation(occurrence: MaintenanceOccurrence, *, method: str, now: datetime) -> str:
    """A METHOD:REQUEST (new or changed) or METHOD:CANCEL invitation for one occurrence."""
    calendar = _calendar(method)
    calendar.add_component(_occurrence_event(occurrence, now=now, cancelled=method == "CANCEL"))
    return calendar.to_ical().decode()


def feed(
    occurrences: Iterable[tuple[MaintenanceOccurrence | None, str, datetime, datetime, str]],
    periods: Iterable[FreezePeriod],
    *,
    now: datetime,
) -> bytes:
    """A subscribable calendar: (occurrence row or None, uid, start, end, title) entries and freeze periods."""
    calendar = _calendar()
    calendar.add("x-wr-calname", "Broxiva maintenance and freezes")
    for occurrence, uid, start, end, title in occurrences:
        event = Event()
        event.add("uid", uid)
        event.add("sequence", occurrence.sequence if occurrence else 0)
        event.add("dtstamp", now)
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("summary", title)
        if occurrence is not None:
            event.add("url", occurrence_url(occurrence))
        calendar.add_component(event)
    for period in periods:
        event = Event()
        event.add("uid", f"freeze-{period.rule_id}-{period.first_day:%Y%m%d}@{_host()}")
        event.add("dtstamp", now)
        # All-day events: freezes are local dates; DTEND is exclusive (RFC 5545).
        event.add("dtstart", period.first_day)
        event.add("dtend", period.last_day + timedelta(days=1))
        event.add("summary", f"Deploy freeze ({period.level}): {period.name}")
        event.add("description", period.describe())
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()
