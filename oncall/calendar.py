"""iCalendar feeds of on-call shifts (RFC 5545), as Google Calendar and Outlook subscribe to them.

Times are written in UTC (`...Z`), which every client accepts without a VTIMEZONE. A shift's UID is built from the
rotation, the layer and the shift's start, so a calendar refreshing the feed updates events instead of duplicating
them.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from icalendar import Calendar, Event

from oncall.models import CalendarFeed, Layer, Rotation
from oncall.schedule import LAYERS
from oncall.selectors import schedules, with_versions
from portal.accounts.models import User

FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=180)
PRODID = "-//Broxiva//Ops Portal on-call//EN"


def _contact(user: User) -> str:
    methods = [value for value in (user.email, user.phone, user.chat_handle) if value]
    return f"{user.get_full_name() or user.get_username()}" + (f" ({', '.join(methods)})" if methods else "")


def feed_calendar(feed: CalendarFeed, *, now: datetime) -> bytes:
    """The feed's shifts from 30 days ago to 180 days ahead: a rotation's, or (no rotation) the owner's own."""
    if feed.rotation_id is not None:
        rotations = Rotation.objects.filter(pk=feed.rotation_id)
        name = f"On-call: {feed.rotation}"
    else:
        mine = Q(versions__participants__user=feed.owner) | Q(overrides__user=feed.owner)
        rotations = Rotation.objects.filter(mine).distinct()
        name = f"My on-call shifts ({feed.owner.get_username()})"
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-published-ttl", "PT1H")  # Outlook's refresh hint; REFRESH-INTERVAL is RFC 7986's
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    stamp = now.replace(microsecond=0)
    for schedule in schedules(with_versions(rotations), start=now - FEED_PAST, end=now + FEED_AHEAD):
        rotation = schedule.rotation
        url = settings.PORTAL_BASE_URL + reverse("oncall-rotation", args=[rotation.pk])
        for layer in LAYERS:
            label = Layer(layer).label
            for segment in schedule.segments(layer=layer):
                if feed.rotation_id is None and segment.person != feed.owner:
                    continue
                override = schedule.override(segment)
                event = Event()
                event.add("uid", f"oncall-{rotation.pk}-{layer}-{segment.start:%Y%m%dT%H%M%SZ}@broxiva-ops-portal")
                event.add("dtstamp", stamp)
                event.add("dtstart", segment.start)
                event.add("dtend", segment.end)
                who = segment.person.get_full_name() or segment.person.get_username()
                event.add("summary", f"{rotation}: {label} on call – {who}")
                details = [f"{label} on-call for {rotation}: {_contact(segment.person)}."]
                if override is not None:
                    details.append(f"Override{f': {override.reason}' if override.reason else ''}.")
                event.add("description", "\n".join(details))
                event.add("url", url)
                event.add("transp", "TRANSPARENT")  # being on call does not make anyone busy
                calendar.add_component(event)
    return calendar.to_ical()
