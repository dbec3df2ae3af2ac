"""The maintenance and freeze rules: occurrence lifecycle, checklists, freeze dates per year, and the deploy gate.

`freeze_status` is the one answer to "may this change deploy to this environment at this instant?", and
`LEVEL_RULES` the one table of what gets through each level: the deploy gate, the deployments log, cluster actions and
maintenance all ask them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache

import holidays
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from incidents.models import Incident
from maintenance.models import (
    ChecklistItem,
    FreezeException,
    FreezeLevel,
    FreezeRule,
    MaintenanceOccurrence,
    MaintenanceWindow,
)
from portal.accounts.models import User
from portal.core.derived_cache import DerivedCache
from portal.core.models import Environment
from portal.errors import ApplicationError
from portal.instants import check_date, check_instant
from portal.scheduling import (
    Recurrence,
    RecurringWindow,
    ScheduleError,
    Span,
    get_zone,
    local_days,
    occurrences_between,
)

Status = MaintenanceOccurrence.Status

ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    # Moving to "notified" by hand sends the notice now instead of at the lead time.
    Status.SCHEDULED: (Status.NOTIFIED, Status.IN_PROGRESS, Status.CANCELLED),
    Status.NOTIFIED: (Status.IN_PROGRESS, Status.CANCELLED),
    Status.IN_PROGRESS: (Status.EXTENDED, Status.COMPLETED),
    Status.EXTENDED: (Status.EXTENDED, Status.COMPLETED),
    Status.COMPLETED: (),
    Status.CANCELLED: (),
}
RESCHEDULABLE = frozenset({Status.SCHEDULED, Status.NOTIFIED})
# Moving to a status with open items of its checklist phase needs an override reason.
CHECKLIST_GATES: dict[str, str] = {
    Status.IN_PROGRESS: ChecklistItem.Phase.PRE,
    Status.COMPLETED: ChecklistItem.Phase.POST,
}

# The seeds' checklists ("Maintenance Windows": pre-, during- and post-maintenance), copied onto each occurrence.
CHECKLISTS: dict[str, tuple[str, ...]] = {
    ChecklistItem.Phase.PRE: (
        "Notify stakeholders (email + Slack)",
        "Update status page",
        "Verify backup completed",
        "Prepare rollback plan",
        "Scale up resources if needed",
        "Notify on-call team",
    ),
    ChecklistItem.Phase.DURING: (
        "Monitor all dashboards",
        "Keep #maintenance Slack channel updated",
        "Document any issues",
        "Test critical paths before completion",
    ),
    ChecklistItem.Phase.POST: (
        "Verify all health checks passing",
        "Check error rates and latency",
        "Update status page to operational",
        "Send completion notification",
        "Document any follow-up items",
    ),
}
# Occurrences become rows this long before their notice is due, so the sweep never sends a notice late.
MATERIALIZE_MARGIN = timedelta(days=1)
# How far ahead overlaps of a new recurring window are looked for.
CONFLICT_HORIZON = timedelta(days=92)
# The longest one occurrence of each kind of window lasts, when created and when rescheduled: a week for planned work
# (the seeds' longest window is 4 hours), 2 days for an emergency.
LONGEST_OCCURRENCE: dict[str, timedelta] = {
    MaintenanceWindow.Kind.RECURRING: timedelta(days=7),
    MaintenanceWindow.Kind.ONE_OFF: timedelta(days=7),
    MaintenanceWindow.Kind.EMERGENCY: timedelta(days=2),
}


def occurrence_change(occurrence: MaintenanceOccurrence) -> str:
    """The `change` a freeze exception names to let this occurrence start during a freeze."""
    return f"maintenance-occurrence-{occurrence.pk}"


def allowed_transitions(occurrence: MaintenanceOccurrence) -> tuple[str, ...]:
    return ALLOWED_TRANSITIONS[occurrence.status]


@lru_cache(maxsize=256)
def _recurring_window(rrule: str, dtstart: date, start_time: time, zone: str, duration: timedelta) -> RecurringWindow:
    return RecurringWindow(
        recurrence=Recurrence(rrule=rrule, dtstart=dtstart, start_time=start_time, zone=zone), duration=duration
    )


def schedule(window: MaintenanceWindow) -> RecurringWindow:
    """The time engine's view of a recurring window (ScheduleError names the field at fault)."""
    if window.dtstart is None or window.start_time is None:
        raise ScheduleError("a recurring window needs dtstart and start_time", field="dtstart")
    return _recurring_window(window.rrule, window.dtstart, window.start_time, window.zone, window.duration)


def generated_spans(window: MaintenanceWindow, *, start: datetime, end: datetime) -> list[Span]:
    """Where the window's rule puts occurrences in [start, end), before any reschedule or cancellation."""
    if window.kind != MaintenanceWindow.Kind.RECURRING:
        if window.starts_at is None:  # not saved yet; the window_recurring_xor_single constraint requires it
            return []
        single = Span(start=window.starts_at, end=window.starts_at + window.duration)
        return [single] if single.start < end and single.end > start else []
    return list(occurrences_between(schedule(window), start=start, end=end))


# Freeze calendar


@dataclass(frozen=True, kw_only=True)
class FreezePeriod:
    """One computed stretch of a freeze rule: local dates `first_day`..`last_day`, and their instants."""

    rule_id: int
    name: str
    level: str
    environments: tuple[str, ...]
    first_day: date
    last_day: date
    span: Span
    zone: str

    @property
    def level_label(self) -> str:
        return FreezeLevel(self.level).label

    def describe(self) -> str:
        days = f"{self.first_day}" if self.first_day == self.last_day else f"{self.first_day} through {self.last_day}"
        return f"{self.name}: {self.level_label}, {days} ({self.zone})"


# The longest freeze the seeds name, Black Friday through Cyber Monday, lasts 8 days (3 days before to 1 day after):
# an exception covers that with room to spare. Anything longer is a change to the freeze rules, not an exception.
LONGEST_FREEZE_EXCEPTION = timedelta(days=14)
_STRICTNESS = {FreezeLevel.BLOCKED: 0, FreezeLevel.EMERGENCY_ONLY: 1, FreezeLevel.REDUCED: 2}
_THANKSGIVING = "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH"  # Black Friday is the day after the fourth Thursday of November
_QUARTER_LAST_DAY = "FREQ=MONTHLY;BYMONTH=3,6,9,12;BYMONTHDAY=-1"
_CYBER_MONDAY_AFTER_BLACK_FRIDAY = timedelta(days=3)
# `until` follows adjoining freezes this far; no freeze calendar chains freezes for longer.
_FOLLOW_FREEZES_FOR = timedelta(days=120)


@lru_cache(maxsize=64)
def _rule_days(rrule: str, year: int) -> tuple[date, ...]:
    """The dates in `year` on which `rrule` fires: date arithmetic, so the engine runs it in UTC."""
    days = RecurringWindow(
        recurrence=Recurrence(rrule=rrule, dtstart=date(year, 1, 1), start_time=time(0), zone="UTC"),
        duration=timedelta(days=1),
    )
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    return tuple(o.start.date() for o in occurrences_between(days, start=start, end=end) if o.start.year == year)


def holiday_country(rule: FreezeRule) -> str:
    return rule.holiday_country or settings.HOLIDAY_COUNTRY


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> tuple[tuple[date, str], ...]:
    return tuple(sorted(holidays.country_holidays(country, years=year).items()))


def validate_freeze_rule(rule: FreezeRule) -> None:
    """Raise ApplicationError naming the field that makes `rule` unusable."""
    if rule.kind not in FreezeRule.Kind.values:
        raise ApplicationError(f"Kind must be one of {', '.join(FreezeRule.Kind.values)}.", field="kind")
    if rule.level not in FreezeLevel.values:
        raise ApplicationError(f"Level must be one of {', '.join(FreezeLevel.values)}.", field="level")
    environments = rule.environments
    if not isinstance(environments, list) or not environments or not set(environments) <= set(Environment.values):
        raise ApplicationError(
            f"Environments must be a non-empty list of {', '.join(Environment.values)}.", field="environments"
        )
    get_zone(rule.zone)
    if rule.kind == FreezeRule.Kind.HOLIDAYS and holiday_country(rule) not in holidays.list_supported_countries():
        raise ApplicationError(
            f"{holiday_country(rule)!r} is not a country the holidays library knows.", field="holiday_country"
        )
    if rule.kind == FreezeRule.Kind.QUARTER_END and not 1 <= rule.days_before <= 31:
        raise ApplicationError("The last 1 to 31 days of the quarter.", field="days_before")
    if rule.kind == FreezeRule.Kind.ONE_OFF:
        if rule.first_day is None or rule.last_day is None:
            raise ApplicationError("A one-off freeze needs its first and last day.", field="first_day")
        check_date(rule.first_day, field="first_day")
        check_date(rule.last_day, field="last_day")
        if rule.last_day < rule.first_day:
            raise ApplicationError("The last day cannot be before the first day.", field="last_day")


def _rule_ranges(rule: FreezeRule, year: int) -> list[tuple[date, date, str]]:
    """(first day, last day, label) of each stretch the rule computes for `year`."""
    before, after = timedelta(days=rule.days_before), timedelta(days=rule.days_after)
    if rule.kind == FreezeRule.Kind.BLACK_FRIDAY:
        black_friday = _rule_days(_THANKSGIVING, year)[0] + timedelta(days=1)
        cyber_monday = black_friday + _CYBER_MONDAY_AFTER_BLACK_FRIDAY
        return [(black_friday - before, cyber_monday + after, f"{rule.name} {year}")]
    if rule.kind == FreezeRule.Kind.QUARTER_END:
        return [
            (last - timedelta(days=rule.days_before - 1), last, f"{rule.name} Q{(last.month - 1) // 3 + 1} {year}")
            for last in _rule_days(_QUARTER_LAST_DAY, year)
        ]
    if rule.kind == FreezeRule.Kind.HOLIDAYS:
        country = holiday_country(rule)
        return [(day - before, day + after, f"{rule.name}: {name}") for day, name in _holidays(country, year)]
    if rule.first_day is None or rule.last_day is None or rule.first_day.year != year:
        return []  # a one-off freeze belongs to the year it starts in
    return [(rule.first_day, rule.last_day, rule.name)]


_Shape = tuple[str, str, int, int, str, date | None, date | None, str]


def _shape(rule: FreezeRule) -> _Shape:
    """What a rule's dates depend on: a key that changes whenever an edit changes them."""
    return (rule.kind, rule.name, rule.days_before, rule.days_after, holiday_country(rule), rule.first_day,
            rule.last_day, rule.zone)  # fmt: skip


@lru_cache(maxsize=256)
def _rule_spans(shape: _Shape, year: int) -> tuple[tuple[date, date, str, Span], ...]:
    """`_rule_ranges` with their instants, memoized by the rule's shape: every deploy gate question computes the
    same few years of holidays and time-zone spans."""
    kind, name, days_before, days_after, country, first_day, last_day, zone = shape
    rule = FreezeRule(kind=kind, name=name, days_before=days_before, days_after=days_after, holiday_country=country,
                      first_day=first_day, last_day=last_day, zone=zone)  # fmt: skip
    return tuple(
        (first, last, label, local_days(first_day=first, last_day=last, zone=zone))
        for first, last, label in _rule_ranges(rule, year)
    )


def freeze_periods(rules: Iterable[FreezeRule], *, start: datetime, end: datetime) -> list[FreezePeriod]:
    """The rules' periods overlapping [start, end), by start."""
    periods = []
    for rule in rules:
        # A stretch may begin in the year before (days_before across New Year) or end in the next one.
        for year in range(start.year - 1, end.year + 2):
            for first, last, name, span in _rule_spans(_shape(rule), year):
                if span.start < end and span.end > start:
                    periods.append(
                        FreezePeriod(
                            rule_id=rule.pk,
                            name=name,
                            level=rule.level,
                            zone=rule.zone,
                            environments=tuple(rule.environments),
                            first_day=first,
                            last_day=last,
                            span=span,
                        )
                    )
    return sorted(periods, key=lambda period: (period.span.start, _STRICTNESS[FreezeLevel(period.level)]))


# Every deploy gate question reads the active rules: cached, dropped on any write to a rule (maintenance/apps.py).
FREEZE_RULES = DerivedCache("freeze-rules")


def active_rules() -> list[FreezeRule]:
    return FREEZE_RULES.get_or_compute(  # type: ignore[no-any-return]
        "active", lambda: (list(FreezeRule.objects.filter(active=True)), None), now=timezone.now()
    )


# What gets through a freeze


class Pass(StrEnum):
    EXCEPTION = "exception"  # an approved freeze exception for the change
    EMERGENCY = "emergency"  # an emergency linked to an open P1/P2 incident
    APPROVED_EMERGENCY = "approved-emergency"  # the same, approved by a second person (Incident Commander or Admin)


@dataclass(frozen=True)
class LevelRule:
    passes: tuple[Pass, ...]  # weakest first: the answer names the weakest pass that was enough
    text: str


LEVEL_RULES: dict[str, LevelRule] = {
    FreezeLevel.REDUCED: LevelRule(
        (Pass.EXCEPTION, Pass.EMERGENCY, Pass.APPROVED_EMERGENCY),
        "Reduced: a change goes through with an approved freeze exception (or as an emergency linked to an open P1 "
        "or P2 incident).",
    ),
    FreezeLevel.EMERGENCY_ONLY: LevelRule(
        (Pass.EMERGENCY, Pass.APPROVED_EMERGENCY),
        "Emergency fixes only: only an emergency linked to an open P1 or P2 incident goes through.",
    ),
    FreezeLevel.BLOCKED: LevelRule(
        (Pass.APPROVED_EMERGENCY,),
        "Blocked: only an emergency linked to an open P1 or P2 incident and approved by a second person (Admin or "
        "Incident Commander) goes through.",
    ),
}
EMERGENCY_MAX_SEVERITY_RANK = 2  # P1 and P2


def emergency_shortfall(incident: Incident | None) -> str | None:
    """Why `incident` does not make a change an emergency (None: it does)."""
    if incident is None:
        return "An emergency change names the open P1 or P2 incident it answers."
    if not incident.is_open:
        return f"{incident.reference} is {incident.get_status_display().lower()}: an emergency needs an open incident."
    if incident.severity.rank > EMERGENCY_MAX_SEVERITY_RANK:
        return f"{incident.reference} is {incident.severity.code}: an emergency change answers a P1 or P2 incident."
    return None


def level_admits(level: str, passes: Iterable[str]) -> Pass | None:
    """The weakest of `passes` that gets a change through a freeze of `level`, or None."""
    offered = set(passes)
    return next((each for each in LEVEL_RULES[level].passes if each in offered), None)


# The deploy gate


@dataclass(frozen=True, kw_only=True)
class FreezeStatus:
    allowed: bool
    level: str | None = None  # the strictest level in force at `at`; None when nothing is frozen
    reasons: list[str] = field(default_factory=list)
    until: datetime | None = None  # when the freezes in force (and those adjoining them) end
    exception_id: int | None = None
    rule: str = ""  # the LEVEL_RULES text of `level`: what gets a change through
    passed_by: str | None = None  # the Pass that let the change through a freeze
    incident_id: int | None = None  # the emergency's incident, when an emergency passed
    approved_by_id: int | None = None  # the second person, for an approved emergency


def require_environment(environment: str) -> str:
    if environment not in Environment.values:
        raise ApplicationError(
            f"Unknown environment {environment!r}; use one of {', '.join(Environment.values)}.", field="environment"
        )
    return environment


def freeze_status(
    environment: str,
    at: datetime,
    change: str | None = None,
    *,
    emergency: bool = False,
    incident: Incident | None = None,
    approved_by: User | None = None,
    rules: Sequence[FreezeRule] | None = None,
) -> FreezeStatus:
    """May a change deploy to `environment` at `at`?

    Not frozen: allowed. Frozen: the strictest level in force decides through LEVEL_RULES which passes the change
    offers: an approved exception for `change` (itself an approved emergency when linked to an open P1/P2), an
    `emergency` linked to `incident`, and `approved_by` a second person for that emergency. Two queries at most: the
    active rules (none when the caller passes the `active_rules()` it already read), then (only when frozen and a
    change is named) its exception.
    """
    require_environment(environment)
    if at.utcoffset() is None:
        raise ApplicationError("Give a time with its UTC offset, e.g. 2026-11-27T10:00:00Z.", field="at")
    check_instant(at, field="at")
    relevant = [rule for rule in (active_rules() if rules is None else rules) if environment in rule.environments]
    periods = freeze_periods(relevant, start=at - timedelta(days=1), end=at + timedelta(days=1))
    active = [period for period in periods if at in period.span]
    if not active:
        return FreezeStatus(allowed=True)
    level = min((FreezeLevel(period.level) for period in active), key=_STRICTNESS.__getitem__)
    reasons = [period.describe() for period in active]
    until = _frozen_until(relevant, active, at)
    offered: dict[Pass, tuple[str, Incident | None, User | None]] = {}
    exception = None
    if change:
        exception = (
            FreezeException.objects.filter(
                status=FreezeException.Status.APPROVED,
                environment=environment,
                change=change,
                starts_at__lte=at,
                ends_at__gt=at,
            )
            .select_related("decided_by", "incident__severity")
            .order_by(F("incident_id").desc(nulls_last=True), "pk")  # one linked to an incident first: it passes more
            .first()
        )
    if exception is not None:
        approver = exception.decided_by.get_username() if exception.decided_by else "someone"
        offered[Pass.EXCEPTION] = (f"Exception #{exception.pk} for {change} approved by {approver}.", None, None)
        if exception.incident is not None and emergency_shortfall(exception.incident) is None:
            offered[Pass.APPROVED_EMERGENCY] = (
                f"Exception #{exception.pk} for {change} approved by {approver} as an emergency for "
                f"{exception.incident.reference} ({exception.incident.severity.code}).",
                exception.incident,
                exception.decided_by,
            )
    shortfall = emergency_shortfall(incident) if emergency else None
    if emergency and shortfall is None and incident is not None:
        what = f"An emergency for {incident.reference} ({incident.severity.code})"
        offered[Pass.EMERGENCY] = (f"{what}.", incident, None)
        if approved_by is not None and Pass.APPROVED_EMERGENCY not in offered:
            offered[Pass.APPROVED_EMERGENCY] = (
                f"{what}, approved by {approved_by.get_username()}.",
                incident,
                approved_by,
            )
    rule = LEVEL_RULES[level]
    passed = level_admits(level, offered)
    answer = FreezeStatus(allowed=False, level=level, reasons=reasons, until=until, rule=rule.text)
    if passed is None:
        return replace(answer, reasons=[*reasons, *([shortfall] if shortfall else [])])
    why, through, approver_user = offered[passed]
    return replace(
        answer,
        allowed=True,
        reasons=[*reasons, f"Allowed: {why}"],
        exception_id=exception.pk if exception is not None and passed != Pass.EMERGENCY else None,
        passed_by=passed.value,
        incident_id=through.pk if through else None,
        approved_by_id=approver_user.pk if approver_user else None,
    )


def _frozen_until(rules: Sequence[FreezeRule], active: Sequence[FreezePeriod], at: datetime) -> datetime:
    """The end of the frozen stretch around `at`, following freezes that overlap or touch one another."""
    until = max(period.span.end for period in active)
    later = freeze_periods(rules, start=at, end=at + _FOLLOW_FREEZES_FOR)
    for period in later:
        if period.span.start <= until:
            until = max(until, period.span.end)
    return until


def frozen_since(environment: str, at: datetime) -> datetime | None:
    """When the frozen stretch of `environment` around `at` began, following freezes that overlap or touch one another
    back in time; None when nothing freezes it at `at`. Approved exceptions do not thaw a freeze: they let one change
    through it."""
    require_environment(environment)
    relevant = [rule for rule in active_rules() if environment in rule.environments]
    active = [
        period
        for period in freeze_periods(relevant, start=at - timedelta(days=1), end=at + timedelta(days=1))
        if at in period.span
    ]
    if not active:
        return None
    since = min(period.span.start for period in active)
    earlier = freeze_periods(relevant, start=at - _FOLLOW_FREEZES_FOR, end=at)
    # Latest end first: once one period ends before `since`, every later one does too.
    for period in sorted(earlier, key=lambda period: period.span.end, reverse=True):
        if period.span.end < since:
            break
        since = min(since, period.span.start)
    return since
