"""The iCalendar feeds: valid RFC 5545 that Google Calendar and Outlook import, UTC times, stable UIDs."""

from datetime import timedelta

from icalendar import Calendar

from oncall.calendar import feed_calendar
from oncall.models import Layer
from oncall.selectors import calendar_feed_by_token
from oncall.services import calendar_feed_issue, override_create
from tests.oncall.conftest import utc

NOW = utc(2026, 2, 4, 12)


def events(raw: bytes) -> list:
    return list(Calendar.from_ical(raw).walk("VEVENT"))


def test_a_rotation_feed_is_a_valid_calendar_of_both_layers_in_utc(rotation, admin_user):
    issued = calendar_feed_issue(owner=admin_user, rotation=rotation)
    raw = feed_calendar(issued.feed, now=NOW)

    assert raw.startswith(b"BEGIN:VCALENDAR\r\n")
    assert raw.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))  # folded as RFC 5545 requires
    calendar = Calendar.from_ical(raw)
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"] == "-//Broxiva//Ops Portal on-call//EN"
    assert calendar["METHOD"] == "PUBLISH"
    found = events(raw)
    for event in found:
        for prop in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"):
            assert prop in event
        assert event.decoded("DTSTART").utcoffset() == timedelta(0)
        for prop in ("DTSTART", "DTEND", "DTSTAMP"):  # UTC form, "...Z", so no VTIMEZONE is needed
            assert event[prop].to_ical().endswith(b"Z")
    primary = [e for e in found if "-primary-" in str(e["UID"])]
    secondary = [e for e in found if "-secondary-" in str(e["UID"])]
    # 30 days back to 180 days ahead of a Wednesday: the weekly shifts running in that span, on each layer.
    assert len(primary) == len(secondary) == 31
    first = min(primary, key=lambda e: e.decoded("DTSTART"))
    assert first.decoded("DTSTART") == utc(2026, 1, 5, 9)
    assert first.decoded("DTEND") == utc(2026, 1, 12, 9)
    assert str(first["SUMMARY"]) == "Checkout on-call: Primary on call – Ann"
    assert "+14155550101" in str(first["DESCRIPTION"])
    assert str(first["TRANSP"]) == "TRANSPARENT"


def test_uids_stay_the_same_from_one_fetch_to_the_next(rotation, admin_user):
    feed = calendar_feed_issue(owner=admin_user, rotation=rotation).feed
    uids = [str(e["UID"]) for e in events(feed_calendar(feed, now=NOW))]
    later = [str(e["UID"]) for e in events(feed_calendar(feed, now=NOW + timedelta(hours=5)))]
    assert uids == later
    assert len(set(uids)) == len(uids)
    assert uids[0] == f"oncall-{rotation.pk}-primary-20260105T090000Z@broxiva-ops-portal"


def test_a_person_feed_holds_only_their_shifts_overrides_included(rotation, ann, cat, admin_user):
    override_create(rotation=rotation, layer=Layer.PRIMARY, user=cat, start=utc(2026, 2, 10), end=utc(2026, 2, 11),
                    actor=admin_user, now=NOW)  # fmt: skip
    feed = calendar_feed_issue(owner=cat).feed
    found = events(feed_calendar(feed, now=NOW))
    assert {str(e["SUMMARY"]).rsplit("– ", 1)[1] for e in found} == {"Cat"}
    cover = next(e for e in found if e.decoded("DTSTART") == utc(2026, 2, 10))
    assert cover.decoded("DTEND") == utc(2026, 2, 11)
    assert "Override" in str(cover["DESCRIPTION"])
    assert Calendar.from_ical(feed_calendar(feed, now=NOW))["X-WR-CALNAME"] == "My on-call shifts (cat)"


def test_tokens_are_random_stored_hashed_and_regenerated(rotation, admin_user):
    first = calendar_feed_issue(owner=admin_user, rotation=rotation)
    assert len(first.token) >= 40
    assert first.token not in first.feed.token_hash
    assert calendar_feed_by_token(token=first.token) == first.feed
    second = calendar_feed_issue(owner=admin_user, rotation=rotation)
    assert second.feed.pk == first.feed.pk
    assert calendar_feed_by_token(token=first.token) is None
    assert calendar_feed_by_token(token=second.token) == first.feed
