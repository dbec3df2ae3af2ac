"""The time engine at the DST changes of 2026 and 2027, at exact handoffs, and its validation."""

import time as stopwatch
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.errors import ApplicationError
from portal.scheduling import (
    BusinessHours,
    Occurrence,
    Overrides,
    Recurrence,
    RecurringWindow,
    ScheduleError,
    Shift,
    Span,
    add_business_days,
    get_zone,
    is_business_day,
    is_business_hours,
    local_days,
    local_instant,
    next_business_start,
    next_occurrence,
    occurrence_at,
    occurrences_between,
    shift_at,
    shifts_between,
)

LONDON = "Europe/London"
NEW_YORK = "America/New_York"
TICK = timedelta(microseconds=1)


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def handoffs(rule: str, zone: str, *, dtstart: date = date(2026, 1, 5), at: time = time(9)) -> Recurrence:
    return Recurrence(rrule=rule, dtstart=dtstart, start_time=at, zone=zone)


def window(rule: str, start: time, end: time, zone: str = "UTC", dtstart: date = date(2026, 1, 1)) -> RecurringWindow:
    return RecurringWindow.from_wall_clock(rrule=rule, dtstart=dtstart, start_time=start, end_time=end, zone=zone)


# Each DST change of 2026 and 2027 in both zones: (zone, local date, instant of the change, spring forward?).
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
# Standard (winter) UTC offsets in hours; summer time is one hour more.
WINTER_OFFSET = {LONDON: 0, NEW_YORK: -5}


def wall_to_utc(zone: str, day: date, hour: int, minute: int, *, summer: bool) -> datetime:
    """What a wall-clock time is in UTC under a stated offset: the tests' independent arithmetic."""
    offset = WINTER_OFFSET[zone] + (1 if summer else 0)
    return datetime.combine(day, time(hour, minute), tzinfo=UTC) - timedelta(hours=offset)


# The DST rule itself


@pytest.mark.parametrize(("zone", "day", "change", "spring"), TRANSITIONS)
def test_gap_times_move_forward_and_repeated_times_take_the_first(zone, day, change, spring):
    tz = get_zone(zone)
    # The table's instant is the change itself: the offset moves by an hour exactly there.
    offset_before, offset_after = (change - TICK).astimezone(tz).utcoffset(), change.astimezone(tz).utcoffset()
    assert offset_after - offset_before == timedelta(hours=1 if spring else -1)
    # The skipped or repeated hour starts at 01:00 in London, at 02:00 (spring) or 01:00 (fall) in New York.
    hour = 1 if zone == LONDON or not spring else 2
    resolved = local_instant(day=day, wall_time=time(hour, 30), zone=zone)
    if spring:
        # Does not exist: read with the winter offset, i.e. one hour later on the summer clock.
        assert resolved == wall_to_utc(zone, day, hour, 30, summer=False)
        assert resolved.astimezone(get_zone(zone)).time() == time(hour + 1, 30)
    else:
        # Happens twice: the first time, still on summer time.
        assert resolved == wall_to_utc(zone, day, hour, 30, summer=True)
        assert resolved < change
    assert local_instant(day=day, wall_time=time(9), zone=zone) == wall_to_utc(zone, day, 9, 0, summer=spring)


# Rotations: shifts from handoff to handoff


@pytest.mark.parametrize(("zone", "day", "change", "spring"), TRANSITIONS)
def test_daily_0900_shift_across_the_change_is_23_or_25_hours(zone, day, change, spring):
    rotation = handoffs("FREQ=DAILY", zone, dtstart=date(2026, 1, 1))
    shift = shift_at(rotation, at=change)
    eve = day - timedelta(days=1)
    assert shift.start == wall_to_utc(zone, eve, 9, 0, summer=not spring)
    assert shift.end == wall_to_utc(zone, day, 9, 0, summer=spring)
    assert shift.duration == timedelta(hours=23 if spring else 25)
    assert shift_at(rotation, at=change - TICK) == shift == shift_at(rotation, at=change + TICK)
    assert shift.index == (eve - date(2026, 1, 1)).days


@pytest.mark.parametrize(("zone", "day", "change", "spring"), TRANSITIONS)
def test_weekly_monday_0900_stays_0900_local_and_hands_off_exactly(zone, day, change, spring):
    rotation = handoffs("FREQ=WEEKLY;BYDAY=MO", zone)
    week_before = day - timedelta(days=6)  # every change is on a Sunday: the Monday before it
    after_change = day + timedelta(days=1)
    shift = shift_at(rotation, at=change)
    assert shift.start == wall_to_utc(zone, week_before, 9, 0, summer=not spring)
    assert shift.end == wall_to_utc(zone, after_change, 9, 0, summer=spring)
    assert shift.duration == timedelta(days=7, hours=-1 if spring else 1)
    # The handoff instant belongs to the next shift; one microsecond before it, to this one.
    assert shift_at(rotation, at=shift.end - TICK) == shift
    following = shift_at(rotation, at=shift.end)
    assert following.start == shift.end
    assert following.index == shift.index + 1
    assert following.start.astimezone(get_zone(zone)).time() == time(9)


def test_weekly_utc_rotation_counts_shifts_from_the_version_start():
    rotation = handoffs("FREQ=WEEKLY;BYDAY=MO", "UTC", dtstart=date(2026, 1, 5))
    assert shift_at(rotation, at=utc(2026, 1, 5, 9) - TICK) is None
    first = Shift(index=0, start=utc(2026, 1, 5, 9), end=utc(2026, 1, 12, 9))
    assert shift_at(rotation, at=utc(2026, 1, 5, 9)) == first
    assert shift_at(rotation, at=utc(2026, 1, 12, 8, 59, 59)).index == 0
    assert shift_at(rotation, at=utc(2026, 1, 12, 9)).index == 1
    # A year ahead: 2027-01-04 is the 53rd Monday from 2026-01-05.
    year_ahead = Shift(index=52, start=utc(2027, 1, 4, 9), end=utc(2027, 1, 11, 9))
    assert shift_at(rotation, at=utc(2027, 1, 4, 9)) == year_ahead


def test_version_starting_midweek_hands_off_first_on_the_next_monday():
    rotation = handoffs("FREQ=WEEKLY;BYDAY=MO", "UTC", dtstart=date(2026, 3, 5))  # a Thursday
    assert shift_at(rotation, at=utc(2026, 3, 6)) is None
    assert shift_at(rotation, at=utc(2026, 3, 9, 9)).index == 0


@pytest.mark.parametrize(
    ("zone", "day", "wall", "shift_start", "shift_end"),
    [
        # 02:30 does not exist on 2026-03-08 in New York: that handoff is at 03:30 EDT, the next at 02:30 EDT.
        pytest.param(NEW_YORK, date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)),
        # London's gap is 01:00-02:00: 01:30 becomes 02:30 BST.
        pytest.param(LONDON, date(2026, 3, 29), time(1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)),
    ],
)
def test_daily_handoff_inside_the_gap_moves_forward_by_the_gap(zone, day, wall, shift_start, shift_end):
    rotation = handoffs("FREQ=DAILY", zone, dtstart=date(2026, 3, 1), at=wall)
    shift = shift_at(rotation, at=shift_start)
    assert (shift.start, shift.end) == (shift_start, shift_end)
    assert shift.start.astimezone(get_zone(zone)).time() == time(wall.hour + 1, wall.minute)
    assert shift.duration == timedelta(hours=23)
    previous = shift_at(rotation, at=shift_start - TICK)
    assert previous.index == shift.index - 1
    # The day before, 02:30 EST to "02:30" = 03:30 EDT is exactly 24 hours.
    assert previous.duration == timedelta(hours=24)


def test_daily_handoff_in_the_repeated_hour_takes_the_first_one():
    rotation = handoffs("FREQ=DAILY", NEW_YORK, dtstart=date(2026, 10, 1), at=time(1, 30))
    shift = shift_at(rotation, at=utc(2026, 11, 1, 6))  # 01:00 EST, the second 01:00
    assert (shift.start, shift.end) == (utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30))
    assert shift.duration == timedelta(hours=25)


def test_twelve_hour_shifts_hand_off_at_0900_and_2100_local_across_dst():
    rotation = handoffs("FREQ=HOURLY;INTERVAL=12", LONDON, dtstart=date(2026, 3, 28))
    shifts = shifts_between(rotation, start=utc(2026, 3, 28, 9), end=utc(2026, 3, 30, 8))
    assert [shift.start.astimezone(get_zone(LONDON)).strftime("%d %H:%M") for shift in shifts] == [
        "28 09:00",
        "28 21:00",
        "29 09:00",
        "29 21:00",
    ]
    assert [shift.duration.total_seconds() / 3600 for shift in shifts] == [12, 11, 12, 12]
    assert [shift.index for shift in shifts] == [0, 1, 2, 3]


def test_shifts_between_are_contiguous_and_include_the_running_shift():
    rotation = handoffs("FREQ=WEEKLY;BYDAY=MO", LONDON)
    shifts = shifts_between(rotation, start=utc(2026, 3, 25), end=utc(2026, 4, 6, 8))
    assert [shift.index for shift in shifts] == [11, 12]
    assert shifts[0].start == utc(2026, 3, 23, 9)
    assert shifts[0].end == shifts[1].start == utc(2026, 3, 30, 8)
    # The range ends exactly at the next handoff: that shift is not in it.
    assert shifts[1].end == utc(2026, 4, 6, 8)


def test_a_handoff_rule_that_ends_leaves_nobody_after_its_last_handoff():
    rotation = handoffs("FREQ=WEEKLY;BYDAY=MO;COUNT=3", "UTC")
    assert [shift.index for shift in shifts_between(rotation, start=utc(2026, 1, 1), end=utc(2026, 3, 1))] == [0, 1]
    assert shift_at(rotation, at=utc(2026, 1, 19, 9) - TICK).index == 1
    assert shift_at(rotation, at=utc(2026, 1, 19, 9)) is None


def test_who_is_on_call_years_ahead_does_not_walk_every_shift():
    rotation = handoffs("FREQ=DAILY", LONDON, dtstart=date(2026, 1, 1))
    instants = [utc(2126, 1, 1, 12) + timedelta(days=day) for day in range(500)]
    began = stopwatch.perf_counter()
    shifts = [shift_at(rotation, at=at) for at in instants]
    assert stopwatch.perf_counter() - began < 2  # generous: walking ~37,000 shifts 500 times would take minutes
    assert [shift.index for shift in shifts] == [(at.date() - date(2026, 1, 1)).days for at in instants]


# From the second shift of the rotations below (first handoff 2026-01-05 09:00) on.
INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 13),  # noqa: DTZ001 - hypothesis takes naive bounds and adds `timezones`
    max_value=datetime(2029, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@pytest.mark.parametrize(
    ("fixed_step", "general", "zone", "dtstart"),
    [
        ("FREQ=WEEKLY;BYDAY=MO", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", LONDON, date(2026, 1, 5)),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;BYMINUTE=0", NEW_YORK, date(2026, 1, 5)),
        # Starting on a Thursday: the first fortnightly Monday is where dateutil puts it, not simply the next one.
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;BYMINUTE=0", LONDON, date(2026, 1, 1)),
        ("FREQ=DAILY;INTERVAL=3", "FREQ=DAILY;INTERVAL=3;BYMINUTE=0", NEW_YORK, date(2026, 1, 5)),
        ("FREQ=HOURLY;INTERVAL=12", "FREQ=DAILY;BYHOUR=9,21", LONDON, date(2026, 1, 5)),
    ],
)
@given(at=INSTANTS)
def test_fixed_step_shortcut_agrees_with_full_expansion(fixed_step, general, zone, dtstart, at):
    fast = shift_at(handoffs(fixed_step, zone, dtstart=dtstart), at=at)
    assert fast == shift_at(handoffs(general, zone, dtstart=dtstart), at=at)


@given(at=INSTANTS, zone=st.sampled_from(["UTC", LONDON, NEW_YORK]))
def test_every_instant_after_the_first_handoff_is_in_exactly_its_shift(at, zone):
    rotation = handoffs("FREQ=WEEKLY;BYDAY=MO", zone)
    shift = shift_at(rotation, at=at)
    assert at in shift
    assert shift.start.astimezone(get_zone(zone)).time() == time(9)
    assert shift_at(rotation, at=shift.end).index == shift.index + 1
    assert shift_at(rotation, at=shift.start - TICK).index == shift.index - 1


# Maintenance windows


def test_standard_updates_tuesday_0200_0400_utc_weekly():
    updates = window("FREQ=WEEKLY;BYDAY=TU", time(2), time(4))
    january = occurrences_between(updates, start=utc(2026, 1, 1), end=utc(2026, 2, 1))
    assert [occurrence.start for occurrence in january] == [utc(2026, 1, day, 2) for day in (6, 13, 20, 27)]
    assert all(occurrence.duration == timedelta(hours=2) for occurrence in january)
    assert len(occurrences_between(updates, start=utc(2026, 1, 1), end=utc(2027, 1, 1))) == 52

    tuesday = january[1]
    assert occurrence_at(updates, at=utc(2026, 1, 13, 2)) == tuesday
    assert occurrence_at(updates, at=utc(2026, 1, 13, 4) - TICK) == tuesday
    assert occurrence_at(updates, at=utc(2026, 1, 13, 4)) is None
    assert occurrence_at(updates, at=utc(2026, 1, 13, 2) - TICK) is None
    assert next_occurrence(updates, after=utc(2026, 1, 13, 2) - TICK) == tuesday
    assert next_occurrence(updates, after=utc(2026, 1, 13, 2)) == january[2]
    # A range starting mid-window includes the window already open; one ending at a window's start does not.
    assert occurrences_between(updates, start=utc(2026, 1, 13, 3), end=utc(2026, 1, 13, 5)) == [tuesday]
    assert occurrences_between(updates, start=utc(2026, 1, 13, 4), end=utc(2026, 1, 20, 2)) == []


@pytest.mark.parametrize(
    ("rule", "start", "end", "days"),
    [
        # Major upgrades on the first Sunday, database maintenance on the first or (the setting) third Sunday.
        ("FREQ=MONTHLY;BYDAY=1SU", time(2), time(6), [4, 1, 1, 5, 3, 7, 5, 2, 6, 4, 1, 6]),
        ("FREQ=MONTHLY;BYDAY=1SU", time(3), time(5), [4, 1, 1, 5, 3, 7, 5, 2, 6, 4, 1, 6]),
        ("FREQ=MONTHLY;BYDAY=3SU", time(3), time(5), [18, 15, 15, 19, 17, 21, 19, 16, 20, 18, 15, 20]),
    ],
)
def test_monthly_sunday_windows(rule, start, end, days):
    monthly = window(rule, start, end)
    year = occurrences_between(monthly, start=utc(2026, 1, 1), end=utc(2027, 1, 1))
    expected_starts = [datetime.combine(date(2026, month, day), start, tzinfo=UTC) for month, day in enumerate(days, 1)]
    assert [occurrence.start for occurrence in year] == expected_starts
    assert all(occurrence.start.weekday() == 6 for occurrence in year)
    assert {occurrence.end - occurrence.start for occurrence in year} == {
        datetime.combine(date.min, end) - datetime.combine(date.min, start)
    }


@pytest.mark.parametrize(("zone", "day", "change", "spring"), TRANSITIONS)
def test_window_across_the_change_is_shorter_in_spring_and_longer_in_fall(zone, day, change, spring):
    # 00:30-02:30 in London and 01:30-03:30 in New York span the skipped or repeated hour.
    first_hour = 0 if zone == LONDON else 1
    nightly = window("FREQ=DAILY", time(first_hour, 30), time(first_hour + 2, 30), zone)
    occurrence = occurrence_at(nightly, at=change)
    assert occurrence.start == wall_to_utc(zone, day, first_hour, 30, summer=not spring)
    assert occurrence.end == wall_to_utc(zone, day, first_hour + 2, 30, summer=spring)
    assert occurrence.duration == timedelta(hours=1 if spring else 3)


def test_0200_0400_window_on_the_new_york_spring_night_lasts_one_hour():
    sunday = window("FREQ=WEEKLY;BYDAY=SU", time(2), time(4), NEW_YORK)
    occurrence = next_occurrence(sunday, after=utc(2026, 3, 7))
    assert (occurrence.start, occurrence.end) == (utc(2026, 3, 8, 7), utc(2026, 3, 8, 8))


def test_window_starting_in_the_gap_and_ending_just_after_it_is_empty():
    # 02:30 does not exist and becomes 03:30 EDT, later than the 03:15 end: that night the window is empty.
    odd = window("FREQ=DAILY", time(2, 30), time(3, 15), NEW_YORK)
    nights = occurrences_between(odd, start=utc(2026, 3, 7), end=utc(2026, 3, 9))
    assert [occurrence.duration for occurrence in nights] == [timedelta(minutes=45), timedelta(0)]
    assert nights[1].start == nights[1].end == utc(2026, 3, 8, 7, 30)
    assert occurrence_at(odd, at=nights[1].start) is None
    # Still listed by exactly one of two adjacent ranges meeting at its start, so a sweep over ranges never drops it.
    assert occurrences_between(odd, start=nights[1].start, end=utc(2026, 3, 8, 8)) == [nights[1]]
    assert occurrences_between(odd, start=utc(2026, 3, 8, 7), end=nights[1].start) == []


def test_window_past_midnight_uses_a_duration_and_rules_can_end():
    nightly = RecurringWindow(
        recurrence=Recurrence(
            rrule="FREQ=DAILY;UNTIL=20260103T230000Z", dtstart=date(2026, 1, 1), start_time=time(22), zone="UTC"
        ),
        duration=timedelta(hours=4),
    )
    nights = occurrences_between(nightly, start=utc(2026, 1, 1), end=utc(2026, 2, 1))
    assert [(occurrence.start, occurrence.end) for occurrence in nights] == [
        (utc(2026, 1, day, 22), utc(2026, 1, day + 1, 2)) for day in (1, 2, 3)
    ]
    assert occurrence_at(nightly, at=utc(2026, 1, 4, 1)) == nights[2]
    assert next_occurrence(nightly, after=utc(2026, 1, 3, 22)) is None


def test_overrides_cancel_and_move_single_occurrences_by_their_original_start():
    updates = window("FREQ=WEEKLY;BYDAY=TU", time(2), time(4))
    overrides = Overrides(
        cancelled=frozenset({utc(2026, 1, 13, 2)}),
        moved={
            utc(2026, 1, 20, 2): Span(start=utc(2026, 1, 21, 2), end=utc(2026, 1, 21, 5)),
            utc(2026, 2, 3, 2): Span(start=utc(2026, 1, 29, 2), end=utc(2026, 1, 29, 4)),  # moved into January
            # Moved out of January, and given in another zone: occurrences come back in UTC all the same.
            utc(2026, 1, 27, 2): Span(
                start=datetime(2026, 2, 4, 21, tzinfo=get_zone(NEW_YORK)),
                end=datetime(2026, 2, 4, 23, tzinfo=get_zone(NEW_YORK)),
            ),
        },
    )
    january = occurrences_between(updates, start=utc(2026, 1, 1), end=utc(2026, 2, 1), overrides=overrides)
    assert january == [
        Occurrence(start=utc(2026, 1, 6, 2), end=utc(2026, 1, 6, 4), original_start=utc(2026, 1, 6, 2)),
        Occurrence(start=utc(2026, 1, 21, 2), end=utc(2026, 1, 21, 5), original_start=utc(2026, 1, 20, 2)),
        Occurrence(start=utc(2026, 1, 29, 2), end=utc(2026, 1, 29, 4), original_start=utc(2026, 2, 3, 2)),
    ]
    assert occurrence_at(updates, at=utc(2026, 1, 13, 3), overrides=overrides) is None
    assert occurrence_at(updates, at=utc(2026, 1, 21, 4), overrides=overrides) == january[1]
    assert next_occurrence(updates, after=utc(2026, 1, 6, 2), overrides=overrides) == january[1]
    moved_out = next_occurrence(updates, after=utc(2026, 1, 29, 2), overrides=overrides)
    assert (moved_out.start, moved_out.original_start) == (utc(2026, 2, 5, 2), utc(2026, 1, 27, 2))
    assert moved_out.start.tzinfo is UTC


RANGES = st.tuples(INSTANTS, st.integers(min_value=1, max_value=90 * 24 * 60)).map(
    lambda pair: (pair[0], pair[0] + timedelta(minutes=pair[1]))
)
WINDOWS = st.sampled_from(
    [
        window("FREQ=WEEKLY;BYDAY=TU", time(2), time(4)),
        window("FREQ=MONTHLY;BYDAY=1SU", time(2), time(6)),
        window("FREQ=DAILY", time(1, 30), time(3, 30), NEW_YORK),
        window("FREQ=DAILY", time(0, 30), time(2, 30), LONDON),
        window("FREQ=WEEKLY;BYDAY=SA,SU", time(9), time(18), LONDON),
    ]
)


@given(recurring=WINDOWS, bounds=RANGES)
def test_occurrences_are_sorted_disjoint_and_found_again_by_instant(recurring, bounds):
    start, end = bounds
    found = occurrences_between(recurring, start=start, end=end)
    assert all(earlier.end <= later.start for earlier, later in pairwise(found))
    for occurrence in found:
        assert occurrence.start < end
        assert occurrence.end > start
        assert occurrence.start in occurrence
        assert occurrence_at(recurring, at=occurrence.start) == occurrence
        assert occurrence.start.astimezone(get_zone(recurring.recurrence.zone)).time() in {
            recurring.recurrence.start_time,
            (datetime.combine(date.min, recurring.recurrence.start_time) + timedelta(hours=1)).time(),
        }
    if found:
        assert next_occurrence(recurring, after=found[0].start - TICK) == found[0]


# Freezes: local-date ranges


def test_local_days_cover_whole_local_dates_including_the_last():
    freeze = local_days(first_day=date(2026, 11, 24), last_day=date(2026, 12, 1), zone=NEW_YORK)
    assert freeze == Span(start=utc(2026, 11, 24, 5), end=utc(2026, 12, 2, 5))
    assert utc(2026, 11, 24, 5) in freeze
    assert utc(2026, 11, 24, 5) - TICK not in freeze
    assert utc(2026, 12, 2, 5) - TICK in freeze
    assert utc(2026, 12, 2, 5) not in freeze


def test_local_days_across_fall_back_last_49_hours():
    weekend = local_days(first_day=date(2026, 10, 24), last_day=date(2026, 10, 25), zone=LONDON)
    assert weekend == Span(start=utc(2026, 10, 23, 23), end=utc(2026, 10, 26))
    assert weekend.duration == timedelta(hours=49)


# Business hours


US_NEW_YORK = BusinessHours(zone=NEW_YORK, holiday_country="US")


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        pytest.param(utc(2026, 11, 23, 14), True, id="monday-0900-est"),
        pytest.param(utc(2026, 11, 23, 14) - TICK, False, id="monday-just-before-0900"),
        pytest.param(utc(2026, 11, 23, 23) - TICK, True, id="monday-just-before-1800"),
        pytest.param(utc(2026, 11, 23, 23), False, id="monday-1800"),
        pytest.param(utc(2026, 11, 21, 17), False, id="saturday-noon"),
        pytest.param(utc(2026, 11, 26, 17), False, id="thanksgiving-noon"),
        pytest.param(utc(2026, 3, 9, 13), True, id="monday-0900-edt-after-spring-forward"),
        pytest.param(utc(2026, 3, 6, 13), False, id="friday-0800-est-before-it"),
    ],
)
def test_is_business_hours(at, expected):
    assert is_business_hours(US_NEW_YORK, at=at) is expected


def test_holidays_are_optional_and_can_be_regional():
    assert is_business_hours(BusinessHours(zone=NEW_YORK), at=utc(2026, 11, 26, 17))
    england = BusinessHours(zone=LONDON, holiday_country="GB", holiday_subdivision="ENG")
    assert not is_business_day(england, day=date(2026, 12, 28))  # Boxing Day, observed on Monday
    assert is_business_day(england, day=date(2026, 12, 29))


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(utc(2026, 11, 25, 23), utc(2026, 11, 27, 14), id="wednesday-evening-skips-thanksgiving"),
        pytest.param(utc(2026, 11, 27, 23, 30), utc(2026, 11, 30, 14), id="friday-evening-to-monday"),
        pytest.param(utc(2026, 11, 23, 13), utc(2026, 11, 23, 14), id="monday-before-opening"),
        pytest.param(utc(2026, 11, 23, 14), utc(2026, 11, 24, 14), id="at-an-opening-the-next-one"),
        pytest.param(utc(2026, 3, 6, 23), utc(2026, 3, 9, 13), id="across-spring-forward"),
    ],
)
def test_next_business_start(after, expected):
    assert next_business_start(US_NEW_YORK, after=after) == expected


@pytest.mark.parametrize(
    ("at", "days", "expected"),
    [
        pytest.param(utc(2026, 11, 20, 20), 1, utc(2026, 11, 23, 20), id="friday-1500-to-monday-1500"),
        pytest.param(utc(2026, 11, 25, 15), 1, utc(2026, 11, 27, 15), id="over-thanksgiving"),
        pytest.param(utc(2026, 11, 21, 19), 1, utc(2026, 11, 23, 23), id="saturday-to-monday-close"),
        pytest.param(utc(2026, 11, 23, 13), 1, utc(2026, 11, 23, 23), id="monday-before-opening-to-its-close"),
        pytest.param(utc(2026, 11, 23, 23), 1, utc(2026, 11, 24, 23), id="monday-at-close-to-tuesday-close"),
        pytest.param(utc(2026, 11, 26, 0, 30), 1, utc(2026, 11, 27, 23), id="wednesday-night-to-friday-close"),
        pytest.param(utc(2026, 11, 23, 15), 5, utc(2026, 12, 1, 15), id="five-days-over-a-holiday-and-weekend"),
        pytest.param(utc(2026, 3, 6, 15), 1, utc(2026, 3, 9, 14), id="across-spring-forward-keeps-1000-local"),
        pytest.param(utc(2026, 11, 21, 19), 0, utc(2026, 11, 21, 19), id="zero-days"),
    ],
)
def test_add_business_days(at, days, expected):
    assert add_business_days(US_NEW_YORK, at=at, days=days) == expected


# Validation


def assert_schedule_error(excinfo: pytest.ExceptionInfo[ScheduleError], field: str) -> None:
    error = excinfo.value
    assert isinstance(error, ValueError)
    assert isinstance(error, ApplicationError)  # so the API answers 400 naming the field
    assert error.field == field
    assert str(error).startswith(f"{field}: ")


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "FREQ=SOMETIMES",
        "BYDAY=MO",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=WEEKLY;FOO=1",
        "FREQ=WEEKLY;BYDAY",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;COUNT=-1",
        "FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z",
        "FREQ=DAILY;UNTIL=20270101",  # not UTC although the schedule has a zone
        "DTSTART:20260101T000000\nRRULE:FREQ=DAILY",
    ],
)
def test_bad_rrule(rule):
    with pytest.raises(ScheduleError) as excinfo:
        Recurrence(rrule=rule, dtstart=date(2026, 1, 1), start_time=time(9), zone="UTC")
    assert_schedule_error(excinfo, "rrule")


def test_rrule_prefix_and_lower_case_are_accepted():
    rotation = handoffs("RRULE:freq=weekly;byday=mo", "UTC")
    assert shift_at(rotation, at=utc(2026, 1, 5, 9)).index == 0


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd", "europe/london "])
def test_unknown_zone(zone):
    with pytest.raises(ScheduleError) as excinfo:
        handoffs("FREQ=DAILY", zone)
    assert_schedule_error(excinfo, "zone")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: window("FREQ=DAILY", time(4), time(2)), "end_time"),
        (lambda: window("FREQ=DAILY", time(4), time(4)), "end_time"),
        (lambda: RecurringWindow(recurrence=handoffs("FREQ=DAILY", "UTC"), duration=timedelta(0)), "duration"),
        (lambda: handoffs("FREQ=DAILY", "UTC", at=time(9, tzinfo=UTC)), "start_time"),
        (lambda: handoffs("FREQ=DAILY", "UTC", dtstart=datetime(2026, 1, 5, 9)), "dtstart"),  # noqa: DTZ001
        (lambda: BusinessHours(zone="UTC", opens=time(18), closes=time(9)), "closes"),
        (lambda: BusinessHours(zone="UTC", weekdays=frozenset()), "weekdays"),
        (lambda: BusinessHours(zone="UTC", weekdays=frozenset({7})), "weekdays"),
        (lambda: BusinessHours(zone="UTC", holiday_country="XX"), "holiday_country"),
        (lambda: BusinessHours(zone="UTC", holiday_country="XX", holiday_subdivision="ENG"), "holiday_country"),
        (lambda: BusinessHours(zone="UTC", holiday_country="US", holiday_subdivision="XX"), "holiday_subdivision"),
        (lambda: BusinessHours(zone="UTC", holiday_subdivision="ENG"), "holiday_subdivision"),
        (lambda: local_days(first_day=date(2026, 1, 2), last_day=date(2026, 1, 1), zone="UTC"), "last_day"),
        (lambda: Span(start=utc(2026, 1, 2), end=utc(2026, 1, 1)), "end"),
        (lambda: shift_at(handoffs("FREQ=MINUTELY;INTERVAL=30", "UTC"), at=utc(2026, 1, 6)), "rrule"),
        (lambda: shift_at(handoffs("FREQ=HOURLY;BYMINUTE=0,30", "UTC"), at=utc(2026, 1, 6)), "rrule"),
        (lambda: add_business_days(US_NEW_YORK, at=utc(2026, 1, 5), days=-1), "days"),
        (lambda: Overrides(moved={utc(2026, 1, 6, 2): Span(start=utc(2026, 1, 7), end=utc(2026, 1, 7))}), "moved"),
        (
            lambda: Overrides(
                cancelled=frozenset({utc(2026, 1, 6, 2)}),
                moved={utc(2026, 1, 6, 2): Span(start=utc(2026, 1, 7), end=utc(2026, 1, 8))},
            ),
            "moved",
        ),
    ],
)
def test_invalid_values_name_their_field(build, field):
    with pytest.raises(ScheduleError) as excinfo:
        build()
    assert_schedule_error(excinfo, field)


NAIVE = datetime(2026, 1, 6, 3)  # noqa: DTZ001 - the point of these tests
UPDATES = window("FREQ=WEEKLY;BYDAY=TU", time(2), time(4))
WEEKLY = handoffs("FREQ=WEEKLY;BYDAY=MO", "UTC")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: occurrences_between(UPDATES, start=NAIVE, end=utc(2026, 2, 1)), "start"),
        (lambda: occurrences_between(UPDATES, start=utc(2026, 1, 1), end=NAIVE), "end"),
        (lambda: occurrence_at(UPDATES, at=NAIVE), "at"),
        (lambda: next_occurrence(UPDATES, after=NAIVE), "after"),
        (lambda: shift_at(WEEKLY, at=NAIVE), "at"),
        (lambda: shifts_between(WEEKLY, start=NAIVE, end=utc(2026, 2, 1)), "start"),
        (lambda: is_business_hours(US_NEW_YORK, at=NAIVE), "at"),
        (lambda: next_business_start(US_NEW_YORK, after=NAIVE), "after"),
        (lambda: add_business_days(US_NEW_YORK, at=NAIVE, days=1), "at"),
        (lambda: NAIVE in Span(start=utc(2026, 1, 1), end=utc(2026, 1, 2)), "at"),
        (lambda: Span(start=NAIVE, end=utc(2026, 1, 7)), "start"),
        (lambda: Overrides(cancelled=frozenset({NAIVE})), "cancelled"),
    ],
)
def test_naive_datetimes_are_refused(call, field):
    with pytest.raises(ScheduleError) as excinfo:
        call()
    assert_schedule_error(excinfo, field)


@pytest.mark.parametrize("end", [utc(2026, 1, 1), utc(2025, 12, 31)])
def test_query_range_must_not_be_empty_or_reversed(end):
    with pytest.raises(ScheduleError) as excinfo:
        occurrences_between(UPDATES, start=utc(2026, 1, 1), end=end)
    assert_schedule_error(excinfo, "end")
    with pytest.raises(ScheduleError) as excinfo:
        shifts_between(WEEKLY, start=utc(2026, 1, 1), end=end)
    assert_schedule_error(excinfo, "end")
