"""The portal's one time engine: recurring windows, rotation shifts, business hours and local-date ranges.

Plain functions over frozen dataclasses. Instants are always passed in (nothing here reads the clock), must be
timezone-aware, and come back in UTC. Ranges are half-open [start, end). A recurrence is an RFC 5545 RRULE expanded
in local wall-clock time in an IANA zone and only then turned into instants, so a 09:00 handoff stays 09:00 local
across DST changes.

DST rule, the only one used: a local wall-clock time becomes an instant with the UTC offset in force before the
transition (PEP 495 ``fold=0``). So a time that does not exist (spring-forward gap) moves forward by the gap, as
RFC 5545 says (02:30 in New York on 2026-03-08 is 03:30 EDT), and a time that happens twice (fall-back) is its
first occurrence. An end is its wall-clock end under the same rule: a 02:00-04:00 window on a spring-forward night
lasts one hour in New York, a window across the repeated hour on a fall-back night lasts one hour longer, and so do
shifts from handoff to handoff. An end that would land before its start (a window starting in the gap and ending
less than a gap's length after it) is its start: that occurrence is empty.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import count, islice, pairwise
from typing import Self, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from dateutil.rrule import rrule as DateutilRule
from dateutil.rrule import rrulestr

from portal.errors import ApplicationError

__all__ = [
    "BusinessHours",
    "Occurrence",
    "Overrides",
    "Recurrence",
    "RecurringWindow",
    "ScheduleError",
    "Shift",
    "Span",
    "add_business_days",
    "get_zone",
    "is_business_day",
    "is_business_hours",
    "local_days",
    "local_instant",
    "next_business_start",
    "next_occurrence",
    "occurrence_at",
    "occurrences_between",
    "shift_at",
    "shifts_between",
]

# Wall-clock and UTC differ by the zone's offset, and an offset changes by at most a day (Samoa, 2011): searching
# from this far before a wall-clock bound cannot miss an occurrence.
_SEARCH_MARGIN = timedelta(days=2)
# The smallest step of a datetime: [at, at + _INSTANT) holds exactly the instant `at`.
_INSTANT = timedelta(microseconds=1)
_FIXED_STEPS = {"HOURLY": timedelta(hours=1), "DAILY": timedelta(days=1), "WEEKLY": timedelta(weeks=1)}
_WEEKDAY_CODES = frozenset({"MO", "TU", "WE", "TH", "FR", "SA", "SU"})


class ScheduleError(ApplicationError, ValueError):
    """Invalid schedule input. `field` names the argument or attribute at fault, and the message starts with it."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


def get_zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or ScheduleError(field="zone")."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # ValueError: not a zone key at all, e.g. "" or a path
        raise ScheduleError(f"unknown IANA time zone {name!r}", field="zone") from exc


def local_instant(*, day: date, wall_time: time, zone: str) -> datetime:
    """The UTC instant of a local date and wall-clock time in `zone`, by the module's DST rule."""
    _require_naive_time(wall_time, "wall_time")
    return _resolve(datetime.combine(day, wall_time), get_zone(zone))


def _resolve(wall: datetime, tz: ZoneInfo) -> datetime:
    # fold=0 *is* the DST rule: the offset from before the transition, for gaps and repeated hours alike (PEP 495).
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _wall(at: datetime, tz: ZoneInfo) -> datetime:
    return at.astimezone(tz).replace(tzinfo=None)


def _require_aware(value: datetime, name: str) -> None:
    if value.utcoffset() is None:
        raise ScheduleError(f"needs a timezone-aware datetime, got naive {value.isoformat()}", field=name)


def _require_naive_time(value: time, name: str) -> None:
    # A wall-clock time means whatever it means in the schedule's zone; a time carrying its own offset contradicts it.
    if value.tzinfo is not None:
        raise ScheduleError("must be a wall-clock time without tzinfo (the zone is given separately)", field=name)


def _require_range(start: datetime, end: datetime) -> None:
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end <= start:
        raise ScheduleError(f"must be after start ({end.isoformat()} <= {start.isoformat()})", field="end")


@dataclass(frozen=True, kw_only=True)
class Span:
    """A half-open range of instants [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware(self.start, "start")
        _require_aware(self.end, "end")
        if self.end < self.start:
            raise ScheduleError(f"must not be before start ({self.end.isoformat()})", field="end")

    def __contains__(self, at: datetime) -> bool:
        _require_aware(at, "at")
        return self.start <= at < self.end

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, kw_only=True)
class Occurrence(Span):
    """One occurrence of a recurring window. `original_start` (UTC) is where the rule put it: its stable identity."""

    original_start: datetime


@dataclass(frozen=True, kw_only=True)
class Shift(Span):
    """From one handoff to the next. `index` counts shifts from the recurrence's first handoff (0)."""

    index: int


def _overlaps(span: Span, start: datetime, end: datetime) -> bool:
    # Starting inside the range, or already running at its start: an empty span counts where it starts.
    return span.start < end and (span.start >= start or span.end > start)


def _rrule_parts(text: str) -> dict[str, str]:
    value = text.strip()
    if value.upper().startswith("RRULE:"):
        value = value[len("RRULE:") :]
    # DTSTART, RDATE, EXDATE and the like come from our own fields; a second source would silently win or conflict.
    if not value or ":" in value or "\n" in value:
        raise ScheduleError(f"give one RRULE value such as 'FREQ=WEEKLY;BYDAY=MO', got {text!r}", field="rrule")
    parts: dict[str, str] = {}
    for part in value.upper().split(";"):
        key, sep, part_value = part.partition("=")
        if not sep or not part_value:
            raise ScheduleError(f"{part!r} in {text!r} is not KEY=VALUE", field="rrule")
        parts[key] = part_value
    if "FREQ" not in parts:
        raise ScheduleError(f"{text!r} has no FREQ", field="rrule")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ScheduleError("COUNT and UNTIL cannot both be given (RFC 5545)", field="rrule")
    for key in ("INTERVAL", "COUNT"):
        # dateutil accepts INTERVAL=0 and repeats one instant forever; RFC 5545 wants a positive integer.
        if key in parts and not (parts[key].isdigit() and int(parts[key]) > 0):
            raise ScheduleError(f"{key} must be a positive integer, got {parts[key]!r}", field="rrule")
    return parts


def _fixed_step(parts: Mapping[str, str]) -> timedelta | None:
    """The constant wall-clock step between occurrences, for the rules that have one (the O(1) path)."""
    step = _FIXED_STEPS.get(parts["FREQ"])
    other_keys = parts.keys() - {"FREQ", "INTERVAL", "WKST"}
    if parts["FREQ"] == "WEEKLY" and parts.get("BYDAY") in _WEEKDAY_CODES:
        other_keys -= {"BYDAY"}
    if step is None or other_keys:
        return None
    return step * int(parts.get("INTERVAL", "1"))


@dataclass(frozen=True, kw_only=True)
class Recurrence:
    """Instants recurring at a local wall-clock time: an RFC 5545 RRULE from a local date, in an IANA zone.

    `dtstart` + `start_time` is the RRULE's DTSTART: the earliest the rule may fire (an occurrence only if the rule
    matches it). BYHOUR/BYMINUTE in the rule override `start_time`. UNTIL must be in UTC (`...Z`), as RFC 5545
    requires when DTSTART has a time zone.
    """

    rrule: str
    dtstart: date
    start_time: time
    zone: str
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _parts: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _rule: DateutilRule = field(init=False, repr=False, compare=False)
    # (first occurrence's wall-clock start, step) for fixed-step rules; None for the rest.
    _fixed: tuple[datetime, timedelta] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tz = get_zone(self.zone)
        if isinstance(self.dtstart, datetime):
            raise ScheduleError("must be a date; the time of day is start_time", field="dtstart")
        _require_naive_time(self.start_time, "start_time")
        parts = _rrule_parts(self.rrule)
        try:
            # An aware DTSTART makes dateutil step in wall-clock time and compare UNTIL as an instant.
            parsed = rrulestr(self.rrule.strip(), dtstart=datetime.combine(self.dtstart, self.start_time, tzinfo=tz))
        except (ValueError, TypeError) as exc:
            raise ScheduleError(f"{self.rrule!r} is not a valid RRULE: {exc}", field="rrule") from exc
        rule = cast(DateutilRule, parsed)  # one RRULE value (checked above) parses to an rrule, never an rruleset
        step = _fixed_step(parts)
        # Fixed-step rules never end (no COUNT/UNTIL), so they have a first occurrence.
        fixed = None if step is None else (next(iter(rule)).replace(tzinfo=None), step)
        object.__setattr__(self, "_tz", tz)
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "_rule", rule)
        object.__setattr__(self, "_fixed", fixed)

    def _walls(self, from_index: int) -> Iterator[tuple[int, datetime]]:
        """(index, naive local wall-clock start) of each occurrence, from occurrence `from_index` on, in order."""
        if self._fixed is None:
            return islice(enumerate(wall.replace(tzinfo=None) for wall in self._rule), from_index, None)
        first, step = self._fixed
        return ((index, first + index * step) for index in count(from_index))

    def _index_near(self, wall: datetime) -> int:
        """An index whose occurrence is at or before `wall` if any is: O(1) for fixed steps, else the first."""
        if self._fixed is None:
            return 0
        first, step = self._fixed
        return max(0, (wall - first) // step)

    def _utc(self, wall: datetime) -> datetime:
        return _resolve(wall, self._tz)

    def _local(self, at: datetime) -> datetime:
        return _wall(at, self._tz)


@dataclass(frozen=True, kw_only=True)
class RecurringWindow:
    """A window that opens at each occurrence of `recurrence` and stays open for `duration` of wall-clock time."""

    recurrence: Recurrence
    duration: timedelta

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise ScheduleError(f"must be positive, got {self.duration}", field="duration")

    @classmethod
    def from_wall_clock(cls, *, rrule: str, dtstart: date, start_time: time, end_time: time, zone: str) -> Self:
        """A window from `start_time` to `end_time` on the same local day (use `duration` for one past midnight)."""
        _require_naive_time(end_time, "end_time")
        recurrence = Recurrence(rrule=rrule, dtstart=dtstart, start_time=start_time, zone=zone)
        if end_time <= start_time:
            raise ScheduleError(
                f"must be after start_time ({end_time} <= {start_time}); a window past midnight needs a duration",
                field="end_time",
            )
        duration = datetime.combine(dtstart, end_time) - datetime.combine(dtstart, start_time)
        return cls(recurrence=recurrence, duration=duration)


@dataclass(frozen=True, kw_only=True)
class Overrides:
    """Changes to single occurrences, keyed by `original_start`: cancelled ones vanish, moved ones get a new span."""

    cancelled: frozenset[datetime] = frozenset()
    moved: Mapping[datetime, Span] = field(default_factory=dict)

    def _moved_occurrences(self) -> list[Occurrence]:
        return [
            Occurrence(
                start=span.start.astimezone(UTC), end=span.end.astimezone(UTC), original_start=original.astimezone(UTC)
            )
            for original, span in self.moved.items()
        ]

    def __post_init__(self) -> None:
        for original in self.cancelled:
            _require_aware(original, "cancelled")
        for original, span in self.moved.items():
            _require_aware(original, "moved")
            if span.end == span.start:
                raise ScheduleError(
                    f"the occurrence of {original.isoformat()} is moved to an empty span", field="moved"
                )
        if both := self.cancelled & self.moved.keys():
            raise ScheduleError(f"{sorted(both)[0].isoformat()} is both cancelled and moved", field="moved")


def _generated(window: RecurringWindow, from_wall: datetime) -> Iterator[tuple[datetime, Occurrence]]:
    """(wall-clock start, occurrence) as the rule places them, from about `from_wall` on, in order."""
    recurrence = window.recurrence
    for _, wall in recurrence._walls(recurrence._index_near(from_wall)):
        start = recurrence._utc(wall)
        end = max(recurrence._utc(wall + window.duration), start)
        yield wall, Occurrence(start=start, end=end, original_start=start)


def occurrences_between(
    window: RecurringWindow, *, start: datetime, end: datetime, overrides: Overrides | None = None
) -> list[Occurrence]:
    """Occurrences that start in [start, end) or are still open at `start`, with overrides applied, by start."""
    _require_range(start, end)
    overrides = overrides or Overrides()
    skipped = overrides.cancelled | overrides.moved.keys()
    recurrence = window.recurrence
    last_wall = recurrence._local(end) + _SEARCH_MARGIN
    found: list[Occurrence] = []
    for wall, occurrence in _generated(window, recurrence._local(start) - window.duration - _SEARCH_MARGIN):
        if wall > last_wall:
            break
        if _overlaps(occurrence, start, end) and occurrence.original_start not in skipped:
            found.append(occurrence)
    found += [occurrence for occurrence in overrides._moved_occurrences() if _overlaps(occurrence, start, end)]
    return sorted(found, key=lambda occurrence: (occurrence.start, occurrence.original_start))


def occurrence_at(window: RecurringWindow, *, at: datetime, overrides: Overrides | None = None) -> Occurrence | None:
    """The occurrence containing `at` (the latest-starting one if several do), or None."""
    _require_aware(at, "at")
    candidates = occurrences_between(window, start=at, end=at + _INSTANT, overrides=overrides)
    containing = [occurrence for occurrence in candidates if at in occurrence]
    return containing[-1] if containing else None


def next_occurrence(
    window: RecurringWindow, *, after: datetime, overrides: Overrides | None = None
) -> Occurrence | None:
    """The first occurrence starting strictly after `after`, with overrides applied; None once the rule has ended."""
    _require_aware(after, "after")
    overrides = overrides or Overrides()
    skipped = overrides.cancelled | overrides.moved.keys()
    # Overrides are finite, so an endless rule always yields an unskipped occurrence and this search stops.
    generated = (
        occurrence
        for _, occurrence in _generated(window, window.recurrence._local(after) - _SEARCH_MARGIN)
        if occurrence.start > after and occurrence.original_start not in skipped
    )
    candidates = [occurrence for occurrence in overrides._moved_occurrences() if occurrence.start > after]
    if (first_generated := next(generated, None)) is not None:
        candidates.append(first_generated)
    return min(candidates, key=lambda occurrence: (occurrence.start, occurrence.original_start), default=None)


def _require_handoff_rule(handoffs: Recurrence) -> None:
    # Handoffs closer together than a DST gap could resolve out of order under the DST rule; an hour apart cannot.
    parts = handoffs._parts
    if parts["FREQ"] in {"SECONDLY", "MINUTELY"} or "," in parts.get("BYMINUTE", "") + parts.get("BYSECOND", ""):
        raise ScheduleError("handoffs must be at least an hour apart (FREQ=HOURLY or coarser)", field="rrule")


def shift_at(handoffs: Recurrence, *, at: datetime) -> Shift | None:
    """The shift containing `at`: from the last handoff at or before it to the next handoff.

    None before the first handoff, and after the last one of a rule that ends (COUNT/UNTIL).
    """
    _require_aware(at, "at")
    _require_handoff_rule(handoffs)
    current: tuple[int, datetime] | None = None
    for index, wall in handoffs._walls(handoffs._index_near(handoffs._local(at) - _SEARCH_MARGIN)):
        handoff = handoffs._utc(wall)
        if handoff > at:
            return None if current is None else Shift(index=current[0], start=current[1], end=handoff)
        current = (index, handoff)
    return None


def shifts_between(handoffs: Recurrence, *, start: datetime, end: datetime) -> list[Shift]:
    """The shifts that start in [start, end) or are running at `start`, in order, with consecutive indexes."""
    _require_range(start, end)
    _require_handoff_rule(handoffs)
    walls = handoffs._walls(handoffs._index_near(handoffs._local(start) - _SEARCH_MARGIN))
    shifts: list[Shift] = []
    for (index, wall), (_, next_wall) in pairwise(walls):
        shift = Shift(index=index, start=handoffs._utc(wall), end=handoffs._utc(next_wall))
        if shift.start >= end:
            break
        if _overlaps(shift, start, end):
            shifts.append(shift)
    return shifts


def local_days(*, first_day: date, last_day: date, zone: str) -> Span:
    """The instants of the local dates `first_day` through `last_day` (both included) in `zone`.

    For "is this instant inside the freeze from X through Y": ``at in local_days(...)``.
    """
    if last_day < first_day:
        raise ScheduleError(f"must not be before first_day ({last_day} < {first_day})", field="last_day")
    tz = get_zone(zone)
    midnight = time(0)
    return Span(
        start=_resolve(datetime.combine(first_day, midnight), tz),
        end=_resolve(datetime.combine(last_day + timedelta(days=1), midnight), tz),
    )


@dataclass(frozen=True, kw_only=True)
class BusinessHours:
    """Opening hours [opens, closes) in `zone` on business days: the `weekdays` (Monday 0 .. Sunday 6) that are not
    public holidays of `holiday_country` (ISO 3166 code, optional subdivision) in the `holidays` library."""

    zone: str
    opens: time = time(9)
    closes: time = time(18)
    weekdays: frozenset[int] = frozenset(range(5))
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _holidays: holidays.HolidayBase | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tz", get_zone(self.zone))
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))  # a plain set would make the value unhashable
        _require_naive_time(self.opens, "opens")
        _require_naive_time(self.closes, "closes")
        if self.closes <= self.opens:
            raise ScheduleError(f"must be after opens ({self.closes} <= {self.opens})", field="closes")
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise ScheduleError(f"must be a non-empty set of 0 (Monday) .. 6, got {self.weekdays}", field="weekdays")
        calendar = None
        if self.holiday_country is not None:
            if self.holiday_country not in holidays.list_supported_countries():
                raise ScheduleError(
                    f"{self.holiday_country!r} is not a country the holidays library knows", field="holiday_country"
                )
            try:
                # Years are filled in lazily on lookup, so one object serves every date.
                calendar = holidays.country_holidays(self.holiday_country, subdiv=self.holiday_subdivision)
            except NotImplementedError as exc:  # the only other thing that can be wrong: the subdivision
                raise ScheduleError(str(exc), field="holiday_subdivision") from exc
        elif self.holiday_subdivision is not None:
            raise ScheduleError("needs holiday_country", field="holiday_subdivision")
        object.__setattr__(self, "_holidays", calendar)

    def _opening(self, day: date) -> datetime:
        return _resolve(datetime.combine(day, self.opens), self._tz)

    def _closing(self, day: date) -> datetime:
        return _resolve(datetime.combine(day, self.closes), self._tz)

    def _step_days(self, day: date, business_days: int) -> date:
        """The business day `business_days` business days after `day` (before it if negative)."""
        step = timedelta(days=1 if business_days > 0 else -1)
        for _ in range(abs(business_days)):
            day += step
            while not is_business_day(self, day=day):
                day += step
        return day


def is_business_day(hours: BusinessHours, *, day: date) -> bool:
    """Whether the local date `day` is one of `hours`' weekdays and not a holiday."""
    return day.weekday() in hours.weekdays and (hours._holidays is None or day not in hours._holidays)


def is_business_hours(hours: BusinessHours, *, at: datetime) -> bool:
    """Whether `at` falls inside opening hours on a business day."""
    _require_aware(at, "at")
    day = _wall(at, hours._tz).date()
    return is_business_day(hours, day=day) and hours._opening(day) <= at < hours._closing(day)


def next_business_start(hours: BusinessHours, *, after: datetime) -> datetime:
    """The first opening of business hours strictly after `after`."""
    _require_aware(after, "after")
    day = _wall(after, hours._tz).date()
    # Ends: `weekdays` is not empty and holidays never cover a whole week.
    while not (is_business_day(hours, day=day) and hours._opening(day) > after):
        day += timedelta(days=1)
    return hours._opening(day)


def add_business_days(hours: BusinessHours, *, at: datetime, days: int) -> datetime:
    """`at` plus `days` days of business time (P4's "next business day" is 1).

    Inside business hours: the same local time `days` business days later (Friday 15:00 + 1 = Monday 15:00).
    Outside them no business time passes, so counting starts from the last close and ends at a close
    (Saturday 14:00 + 1 = Monday 18:00, Monday 08:00 + 1 = Monday 18:00).
    """
    _require_aware(at, "at")
    if days < 0:
        raise ScheduleError(f"must be zero or more, got {days}", field="days")
    if days == 0:
        return at.astimezone(UTC)
    local = _wall(at, hours._tz)
    if is_business_hours(hours, at=at):
        return _resolve(datetime.combine(hours._step_days(local.date(), days), local.time()), hours._tz)
    last_close_day = local.date()
    if not (is_business_day(hours, day=last_close_day) and at >= hours._closing(last_close_day)):
        last_close_day = hours._step_days(last_close_day, -1)
    return hours._closing(hours._step_days(last_close_day, days))
