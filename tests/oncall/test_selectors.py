"""Who is on call: now, in the past, a year ahead, across DST, with versions, overrides and archiving."""

from datetime import date, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Service
from oncall.models import Layer
from oncall.selectors import (
    oncall_at,
    oncall_now,
    rotation_schedule,
    rotation_timezone,
    service_rotations,
    upcoming_events,
)
from oncall.services import override_create, rotation_archive, rotation_version_add
from portal.errors import ApplicationError
from portal.scheduling import get_zone
from tests.oncall.conftest import LONDON, NEW_YORK, TICK, utc

PRIMARY, SECONDARY = Layer.PRIMARY, Layer.SECONDARY


class TestWeeklyUtcRotation:
    def test_hands_off_every_monday_0900_utc_in_order(self, rotation, ann, ben, cat):
        assert oncall_at(rotation, at=utc(2026, 1, 5, 9)) == ann
        assert oncall_at(rotation, at=utc(2026, 1, 11, 23, 59)) == ann
        assert oncall_at(rotation, at=utc(2026, 1, 12, 9) - TICK) == ann
        assert oncall_at(rotation, at=utc(2026, 1, 12, 9)) == ben  # the exact handoff instant is the next shift's
        assert oncall_at(rotation, at=utc(2026, 1, 19, 9)) == cat
        assert oncall_at(rotation, at=utc(2026, 1, 26, 9)) == ann

    def test_nobody_before_the_first_handoff(self, rotation):
        assert oncall_at(rotation, at=utc(2026, 1, 5, 9) - TICK) is None

    def test_a_year_ahead(self, rotation, ben):
        # 2027-01-04 is the 53rd Monday from 2026-01-05: shift 52, and 52 % 3 == 1.
        assert oncall_at(rotation, at=utc(2027, 1, 4, 9)) == ben
        assert oncall_at(rotation, at=utc(2027, 1, 4, 9) - TICK) == oncall_at(rotation, at=utc(2026, 12, 28, 9))

    def test_secondary_is_the_next_person_in_the_order(self, rotation, ann, ben, cat):
        assert oncall_at(rotation, at=utc(2026, 1, 6), layer=SECONDARY) == ben
        assert oncall_at(rotation, at=utc(2026, 1, 20), layer=SECONDARY) == ann

    def test_secondary_can_follow_its_own_order(self, make_rotation, ann, ben, cat):
        rotation = make_rotation(participants=[ann, ben], secondary_participants=[cat])
        assert oncall_at(rotation, at=utc(2026, 1, 6), layer=SECONDARY) == cat
        assert oncall_at(rotation, at=utc(2026, 1, 13), layer=SECONDARY) == cat

    def test_a_rotation_of_one_has_no_secondary(self, make_rotation, ann):
        rotation = make_rotation(participants=[ann])
        assert oncall_at(rotation, at=utc(2026, 3, 3)) == ann
        assert oncall_at(rotation, at=utc(2026, 3, 3), layer=SECONDARY) is None

    def test_a_naive_instant_is_refused(self, rotation):
        with pytest.raises(ApplicationError) as refused:
            oncall_at(rotation, at=utc(2026, 1, 6).replace(tzinfo=None))
        assert refused.value.field == "at"


class TestOtherLengths:
    def test_daily_rotation(self, make_rotation, ann, ben, cat):
        rotation = make_rotation(rrule="FREQ=DAILY", start_date=date(2026, 1, 1))
        assert [oncall_at(rotation, at=utc(2026, 1, day, 12)) for day in (1, 2, 3, 4)] == [ann, ben, cat, ann]

    def test_twelve_hour_shifts(self, make_rotation, ann, ben):
        rotation = make_rotation(rrule="FREQ=HOURLY;INTERVAL=12", start_date=date(2026, 1, 1), participants=[ann, ben])
        assert oncall_at(rotation, at=utc(2026, 1, 1, 20)) == ann
        assert oncall_at(rotation, at=utc(2026, 1, 1, 21)) == ben
        assert oncall_at(rotation, at=utc(2026, 1, 2, 9)) == ann

    def test_fortnightly_rotation(self, make_rotation, ann, ben):
        rotation = make_rotation(rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", participants=[ann, ben])
        assert oncall_at(rotation, at=utc(2026, 1, 18)) == ann
        assert oncall_at(rotation, at=utc(2026, 1, 19, 9)) == ben


class TestVersions:
    def test_editing_people_never_changes_who_was_on_call_last_week(self, rotation, ann, ben, cat, admin_user):
        wednesday = utc(2026, 1, 21, 12)  # cat's week (shift 2)
        last_week = [oncall_at(rotation, at=utc(2026, 1, 12, 9) + timedelta(hours=h)) for h in range(0, 168, 7)]
        assert set(last_week) == {ben}

        version = rotation_version_add(rotation=rotation, actor=admin_user, participants=[cat, ann], now=wednesday)

        assert version.effective_from == utc(2026, 1, 26, 9)  # by default, from the next handoff
        assert [oncall_at(rotation, at=utc(2026, 1, 12, 9) + timedelta(hours=h)) for h in range(0, 168, 7)] == last_week
        assert oncall_at(rotation, at=wednesday) == cat  # the running shift is left alone
        # Shift 3 from 2026-01-26 goes to the new order: index 3 % 2 == 1.
        assert oncall_at(rotation, at=utc(2026, 1, 26, 9)) == ann
        assert oncall_at(rotation, at=utc(2026, 2, 2, 9)) == cat

    def test_a_change_can_take_effect_mid_shift(self, rotation, ann, ben, admin_user):
        now = utc(2026, 1, 6, 12)
        rotation_version_add(rotation=rotation, actor=admin_user, participants=[ben], effective_from=utc(2026, 1, 7),
                             now=now)  # fmt: skip
        assert oncall_at(rotation, at=utc(2026, 1, 7) - TICK) == ann
        assert oncall_at(rotation, at=utc(2026, 1, 7)) == ben
        segment = rotation_schedule(rotation, start=now, end=now + TICK).at(layer=PRIMARY, at=now)
        assert (segment.start, segment.end) == (utc(2026, 1, 5, 9), utc(2026, 1, 7))

    def test_changing_the_time_zone_moves_only_future_handoffs(self, rotation, admin_user, ben, cat):
        rotation_version_add(rotation=rotation, actor=admin_user, timezone=NEW_YORK, now=utc(2026, 1, 13))
        assert oncall_at(rotation, at=utc(2026, 1, 12, 9)) == ben
        # From 2026-01-19 09:00 UTC the new version holds; its handoffs are 09:00 New York (14:00 UTC).
        assert oncall_at(rotation, at=utc(2026, 1, 19, 13, 59)) == ben
        assert oncall_at(rotation, at=utc(2026, 1, 19, 14)) == cat
        assert rotation_timezone(rotation, at=utc(2026, 1, 13)) == "UTC"
        assert rotation_timezone(rotation, at=utc(2026, 1, 20)) == NEW_YORK

    def test_a_change_in_the_past_is_refused(self, rotation, admin_user, ann):
        with pytest.raises(ApplicationError) as refused:
            rotation_version_add(rotation=rotation, actor=admin_user, participants=[ann],
                                 effective_from=utc(2026, 1, 10), now=utc(2026, 1, 14))  # fmt: skip
        assert refused.value.field == "effective_from"


# Each DST change of 2026 and 2027: (zone, local date, instant of the change, spring forward?).
TRANSITIONS = [
    pytest.param(LONDON, date(2026, 3, 29), utc(2026, 3, 29, 1), True, id="london-2026-spring"),
    pytest.param(LONDON, date(2026, 10, 25), utc(2026, 10, 25, 1), False, id="london-2026-fall"),
    pytest.param(LONDON, date(2027, 3, 28), utc(2027, 3, 28, 1), True, id="london-2027-spring"),
    pytest.param(LONDON, date(2027, 10, 31), utc(2027, 10, 31, 1), False, id="london-2027-fall"),
    pytest.param(NEW_YORK, date(2026, 3, 8), utc(2026, 3, 8, 7), True, id="new-york-2026-spring"),
    pytest.param(NEW_YORK, date(2026, 11, 1), utc(2026, 11, 1, 6), False, id="new-york-2026-fall"),
    pytest.param(NEW_YORK, date(2027, 3, 14), utc(2027, 3, 14, 7), True, id="new-york-2027-spring"),
    pytest.param(NEW_YORK, date(2027, 11, 7), utc(2027, 11, 7, 6), False, id="new-york-2027-fall"),
]
WINTER_OFFSET = {LONDON: 0, NEW_YORK: -5}


def wall_to_utc(zone: str, day: date, hour: int, minute: int, *, summer: bool):
    """A wall-clock time in UTC under a stated offset: the tests' own arithmetic, independent of zoneinfo."""
    offset = WINTER_OFFSET[zone] + (1 if summer else 0)
    return utc(day.year, day.month, day.day, hour, minute) - timedelta(hours=offset)


class TestDaylightSaving:
    @pytest.mark.parametrize(("zone", "day", "change", "spring"), TRANSITIONS)
    def test_daily_handoff_in_the_skipped_or_repeated_hour(self, make_rotation, people, zone, day, change, spring):
        """Handoffs at 01:30 (London) or in New York's changing hour: 02:30 in spring, 01:30 in the fall."""
        hour = 2 if zone == NEW_YORK and spring else 1
        rotation = make_rotation(zone=zone, rrule="FREQ=DAILY", at=time(hour, 30), start_date=date(2026, 1, 1))
        index = (day - date(2026, 1, 1)).days  # shift 0 is the handoff of 2026-01-01
        before, after = people[(index - 1) % 3], people[index % 3]
        # A skipped 01:30/02:30 is read on winter time (an hour later on the summer clock); a repeated one is the
        # first, still on summer time.
        handoff = wall_to_utc(zone, day, hour, 30, summer=not spring)
        assert oncall_at(rotation, at=handoff - TICK) == before
        assert oncall_at(rotation, at=handoff) == after
        # At the change itself, and at the repeated wall-clock time an hour later, nothing hands off again.
        assert oncall_at(rotation, at=change) == (before if spring else after)
        assert oncall_at(rotation, at=handoff + timedelta(hours=1)) == after
        segment = rotation_schedule(rotation, start=handoff, end=handoff + TICK).at(layer=PRIMARY, at=handoff)
        assert segment.end == wall_to_utc(zone, day + timedelta(days=1), hour, 30, summer=spring)

    @pytest.mark.parametrize(("zone", "day", "change", "spring"), TRANSITIONS)
    def test_weekly_monday_0900_local_across_the_change(self, make_rotation, people, zone, day, change, spring):
        rotation = make_rotation(zone=zone)
        monday_after = day + timedelta(days=1)  # every change is on a Sunday
        handoff = wall_to_utc(zone, monday_after, 9, 0, summer=spring)
        index = (monday_after - date(2026, 1, 5)).days // 7
        assert oncall_at(rotation, at=change) == people[(index - 1) % 3]
        assert oncall_at(rotation, at=handoff - TICK) == people[(index - 1) % 3]
        assert oncall_at(rotation, at=handoff) == people[index % 3]
        assert handoff.astimezone(get_zone(zone)).time() == time(9)
        segment = rotation_schedule(rotation, start=change, end=change + TICK).at(layer=PRIMARY, at=change)
        assert segment.start == wall_to_utc(zone, monday_after - timedelta(days=7), 9, 0, summer=not spring)
        assert segment.duration == timedelta(days=7, hours=-1 if spring else 1)


class TestOverrides:
    def test_an_override_replaces_the_planned_person_for_its_span_only(self, rotation, ann, cat, admin_user):
        now = utc(2026, 1, 6)
        override_create(rotation=rotation, layer=PRIMARY, user=cat, start=utc(2026, 1, 7, 18), end=utc(2026, 1, 8, 6),
                        actor=admin_user, now=now)  # fmt: skip
        assert oncall_at(rotation, at=utc(2026, 1, 7, 18) - TICK) == ann
        assert oncall_at(rotation, at=utc(2026, 1, 7, 18)) == cat
        assert oncall_at(rotation, at=utc(2026, 1, 8, 6)) == ann
        assert oncall_at(rotation, at=utc(2026, 1, 7, 20), layer=SECONDARY) != cat  # other layer untouched
        segments = rotation_schedule(rotation, start=utc(2026, 1, 5, 9), end=utc(2026, 1, 12, 9)).segments(
            layer=PRIMARY
        )
        assert [(s.person.username, s.start, s.end, s.is_override) for s in segments] == [
            ("ann", utc(2026, 1, 5, 9), utc(2026, 1, 7, 18), False),
            ("cat", utc(2026, 1, 7, 18), utc(2026, 1, 8, 6), True),
            ("ann", utc(2026, 1, 8, 6), utc(2026, 1, 12, 9), False),
        ]

    def test_segment_bounds_are_right_even_when_the_override_lies_outside_the_window(self, rotation, cat, admin_user):
        override_create(rotation=rotation, layer=PRIMARY, user=cat, start=utc(2026, 1, 6), end=utc(2026, 1, 7),
                        actor=admin_user, now=utc(2026, 1, 5, 12))  # fmt: skip
        friday = utc(2026, 1, 9)
        segment = rotation_schedule(rotation, start=friday, end=friday + TICK).at(layer=PRIMARY, at=friday)
        assert (segment.start, segment.end) == (utc(2026, 1, 7), utc(2026, 1, 12, 9))


class TestArchive:
    def test_nobody_is_on_call_after_archiving_but_history_stays(self, rotation, ann, cat, admin_user):
        override_create(rotation=rotation, layer=PRIMARY, user=cat, start=utc(2026, 1, 20), end=utc(2026, 1, 21),
                        actor=admin_user, now=utc(2026, 1, 6))  # fmt: skip
        rotation_archive(rotation=rotation, actor=admin_user, now=utc(2026, 1, 7))
        assert oncall_at(rotation, at=utc(2026, 1, 6)) == ann
        assert oncall_at(rotation, at=utc(2026, 1, 7)) is None
        assert oncall_at(rotation, at=utc(2026, 1, 20, 12)) is None
        assert rotation.name not in [row.rotation.name for row in oncall_now(at=utc(2026, 1, 6))]


class TestOnCallNow:
    def test_lists_every_rotation_with_primary_and_secondary(self, make_rotation, ann, ben, cat):
        make_rotation("Checkout on-call")
        make_rotation("Data", participants=[cat], secondary_participants=[ann])
        rows = {row.rotation.name: row for row in oncall_now(at=utc(2026, 1, 13))}
        assert (rows["Checkout on-call"].primary.person, rows["Checkout on-call"].secondary.person) == (ben, cat)
        assert rows["Checkout on-call"].primary.end == utc(2026, 1, 19, 9)
        assert (rows["Data"].primary.person, rows["Data"].secondary.person) == (cat, ann)

    def test_query_count_does_not_grow_with_rotations(self, make_rotation, people, admin_user):
        make_rotation("R0")
        with CaptureQueriesContext(connection) as one:
            oncall_now(at=utc(2026, 1, 13))
        for n in range(1, 6):
            rotation = make_rotation(f"R{n}")
            # ann or ben: cat is that week's secondary.
            override_create(rotation=rotation, layer=PRIMARY, user=people[n % 2], start=utc(2026, 1, 13),
                            end=utc(2026, 1, 14), actor=admin_user, now=utc(2026, 1, 12))  # fmt: skip
        with CaptureQueriesContext(connection) as six:
            assert len(oncall_now(at=utc(2026, 1, 13, 1))) == 7  # and the seeded "Platform on-call"
        assert len(six) == len(one)


def test_a_service_finds_its_rotations(make_rotation):
    api = Service.objects.create(name="API", slug="api")
    covering = make_rotation("Checkout on-call", services=[api])
    make_rotation("Data")
    assert list(service_rotations(service=api)) == [covering]


def test_upcoming_events_list_the_weeks_maintenance_and_freezes(rotation):
    # Black Friday week 2026: the freeze starts Tuesday 11-24; standard updates run Tuesdays 02:00 UTC.
    events = upcoming_events(rotation=rotation, start=utc(2026, 11, 23, 9), end=utc(2026, 11, 30, 9))
    titles = [(event.start, event.title) for event in events]
    assert (utc(2026, 11, 24, 2), "Maintenance: Standard updates") in titles
    assert (utc(2026, 11, 24), "Freeze (blocked): Black Friday / Cyber Monday 2026") in titles
    assert [start for start, _ in titles] == sorted(start for start, _ in titles)


def test_a_freeze_already_in_force_at_the_handoff_is_listed_with_its_end(rotation):
    # Handing over on Friday of Black Friday week: the freeze began on Tuesday.
    events = upcoming_events(rotation=rotation, start=utc(2026, 11, 27, 9), end=utc(2026, 12, 4, 9))
    [freeze] = [event for event in events if "Black Friday" in event.title]
    assert (freeze.start, freeze.until, freeze.in_force) == (utc(2026, 11, 24), utc(2026, 12, 2), True)
    assert not [event for event in events if event.in_force and "Black Friday" not in event.title and
                "Thanksgiving" not in event.title]  # fmt: skip


def test_deployments_planned_in_the_coming_week_to_the_rotations_services_are_listed(rotation):
    from operations.models import Deployment

    api, search = (Service.objects.create(name=name, slug=name.lower()) for name in ("API", "Search"))
    rotation.services.set([api])
    common = {"environment": "production", "commit": "abcdef1", "who": "ci", "status": "planned"}
    mine = Deployment.objects.create(service=api, version="v5", started_at=utc(2026, 12, 8, 14), **common)
    Deployment.objects.create(service=search, version="v9", started_at=utc(2026, 12, 8, 15), **common)  # not covered
    Deployment.objects.create(service=api, version="v6", started_at=utc(2026, 12, 20), **common)  # after the week
    Deployment.objects.create(service=api, version="v4", started_at=utc(2026, 12, 8, 10),
                              **(common | {"status": "succeeded"}))  # fmt: skip  # not planned

    events = upcoming_events(rotation=rotation, start=utc(2026, 12, 7, 9), end=utc(2026, 12, 14, 9))

    planned = [event for event in events if event.title.startswith("Deployment planned")]
    assert [(event.title, event.start, event.url) for event in planned] == [
        ("Deployment planned: API v5 to production", utc(2026, 12, 8, 14), f"/deployments/{mine.pk}/")
    ]
