"""Reads for maintenance and freezes: lists, the calendar (computed occurrences merged with their rows), overlaps
and the public status page."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Prefetch, Q, QuerySet

from incidents.models import Incident, Service, StatusUpdate
from maintenance import ical, policy
from maintenance.models import (
    ChecklistItem,
    FreezeException,
    FreezePass,
    FreezeRule,
    MaintenanceOccurrence,
    MaintenanceWindow,
    OccurrenceEvent,
)
from operations.models import ProcedureRun
from portal.core.derived_cache import DerivedCache
from portal.scheduling import Overrides, Span, occurrences_between

Status = MaintenanceOccurrence.Status
# Rows whose rule position lies this far outside a range may still have been moved into it.
_MOVED_MARGIN = timedelta(days=31)


def window_list() -> QuerySet[MaintenanceWindow]:
    return MaintenanceWindow.objects.select_related("owner").prefetch_related("services")


def occurrence_list() -> QuerySet[MaintenanceOccurrence]:
    return MaintenanceOccurrence.objects.select_related("window", "owner").prefetch_related("window__services")


def occurrence_detail() -> QuerySet[MaintenanceOccurrence]:
    return occurrence_list().prefetch_related(
        Prefetch("checklist", queryset=ChecklistItem.objects.select_related("done_by")),
        Prefetch("history", queryset=OccurrenceEvent.objects.select_related("actor")),
        "notices",
        Prefetch("procedure_runs", queryset=ProcedureRun.objects.select_related("procedure", "incident")),
    )


def freeze_pass_list() -> QuerySet[FreezePass]:
    return FreezePass.objects.select_related("incident", "approved_by", "actor")


def exception_list() -> QuerySet[FreezeException]:
    return FreezeException.objects.select_related("requested_by", "decided_by")


@dataclass(frozen=True)
class CalendarEntry:
    """One occurrence on the calendar: computed from its window's rule, or its row once it has one."""

    window: MaintenanceWindow
    start: datetime
    end: datetime
    original_start: datetime
    occurrence: MaintenanceOccurrence | None

    @property
    def status(self) -> str:
        return self.occurrence.status if self.occurrence else Status.SCHEDULED

    @property
    def status_label(self) -> str:
        return Status(self.status).label

    @property
    def uid(self) -> str:
        if self.occurrence is not None:
            return ical.occurrence_uid(self.occurrence)
        unsaved = MaintenanceOccurrence(window=self.window, original_start=self.original_start)
        return ical.occurrence_uid(unsaved)

    @property
    def span(self) -> Span:
        return Span(start=self.start, end=self.end)


def calendar_entries(
    *, start: datetime, end: datetime, windows: Sequence[MaintenanceWindow] | None = None
) -> list[CalendarEntry]:
    """Occurrences of active windows in [start, end), rescheduled ones where they now are, cancelled ones left out.

    Three queries whatever the range: windows, their services, and the occurrence rows concerned.
    """
    windows = list(window_list().filter(active=True)) if windows is None else list(windows)
    rows = MaintenanceOccurrence.objects.filter(window__in=[window.pk for window in windows]).filter(
        Q(starts_at__lt=end, ends_at__gt=start)
        | Q(original_start__gte=start - _MOVED_MARGIN, original_start__lt=end + _MOVED_MARGIN)
    )
    by_window: dict[int, dict[datetime, MaintenanceOccurrence]] = defaultdict(dict)
    for row in rows.select_related("owner"):
        by_window[row.window_id][row.original_start] = row
    entries = []
    for window in windows:
        known = by_window.get(window.pk, {})
        if window.kind == MaintenanceWindow.Kind.RECURRING:
            overrides = Overrides(
                cancelled=frozenset(original for original, row in known.items() if row.status == Status.CANCELLED),
                moved={
                    original: Span(start=row.starts_at, end=row.ends_at)
                    for original, row in known.items()
                    if row.status != Status.CANCELLED
                },
            )
            found = occurrences_between(policy.schedule(window), start=start, end=end, overrides=overrides)
            entries += [
                CalendarEntry(window, occ.start, occ.end, occ.original_start, known.get(occ.original_start))
                for occ in found
            ]
        else:
            entries += [
                CalendarEntry(window, row.starts_at, row.ends_at, row.original_start, row)
                for row in known.values()
                if row.status != Status.CANCELLED and row.starts_at < end and row.ends_at > start
            ]
    return sorted(entries, key=lambda entry: (entry.start, entry.window.name))


def freeze_periods(
    *,
    start: datetime,
    end: datetime,
    environment: str | None = None,
    rules: Sequence[FreezeRule] | None = None,
) -> list[policy.FreezePeriod]:
    rules = policy.active_rules() if rules is None else rules
    relevant = [rule for rule in rules if environment is None or environment in rule.environments]
    return policy.freeze_periods(relevant, start=start, end=end)


def conflicts(*, window: MaintenanceWindow, spans: Iterable[Span]) -> list[str]:
    """Overlaps of the window's `spans` with freezes of its environment and with other windows on a shared service.

    Reported, not refused: a maintenance window inside a freeze may be exactly what was agreed.
    """
    spans = sorted(spans, key=lambda span: span.start)
    if not spans:
        return []
    start, end = spans[0].start, max(span.end for span in spans)
    service_ids = {service.pk for service in window.services.all()}
    others = window_list().filter(active=True, services__in=service_ids).exclude(pk=window.pk).distinct()
    other_entries = calendar_entries(start=start, end=end, windows=list(others)) if service_ids else []
    periods = freeze_periods(start=start, end=end, environment=window.environment)
    warnings = []
    for span in spans:
        label = f"{window.name} on {span.start:%Y-%m-%d %H:%M} UTC"
        warnings += [
            f"{label} overlaps the freeze {period.describe()}"
            for period in periods
            if period.span.start < span.end and period.span.end > span.start
        ]
        for entry in other_entries:
            if entry.start < span.end and entry.end > span.start:
                shared = sorted(s.name for s in entry.window.services.all() if s.pk in service_ids)
                warnings.append(
                    f"{label} overlaps {entry.window.name} ({entry.start:%Y-%m-%d %H:%M}-{entry.end:%H:%M} UTC) "
                    f"on {', '.join(shared)}"
                )
    return warnings


def window_conflicts(*, window: MaintenanceWindow, now: datetime) -> list[str]:
    """Overlaps of the window's coming occurrences (the next three months of a recurring one)."""
    if window.kind != MaintenanceWindow.Kind.RECURRING:
        rows = window.occurrences.exclude(status=Status.CANCELLED)
        return conflicts(window=window, spans=[Span(start=row.starts_at, end=row.ends_at) for row in rows])
    entries = calendar_entries(start=now, end=now + policy.CONFLICT_HORIZON, windows=[window])
    return conflicts(window=window, spans=[entry.span for entry in entries])


def occurrence_conflicts(*, occurrence: MaintenanceOccurrence) -> list[str]:
    return conflicts(window=occurrence.window, spans=[Span(start=occurrence.starts_at, end=occurrence.ends_at)])


def next_freeze(
    *, now: datetime, environment: str, rules: Sequence[FreezeRule] | None = None
) -> policy.FreezePeriod | None:
    """The first freeze of `environment` starting after `now`, within a year."""
    coming = freeze_periods(start=now, end=now + timedelta(days=366), environment=environment, rules=rules)
    return next((period for period in coming if period.span.start > now), None)


# Status page

OPERATIONAL, MAINTENANCE, DEGRADED, PARTIAL, MAJOR = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)
STATUS_LABELS = {
    OPERATIONAL: "Operational",
    MAINTENANCE: "Under maintenance",
    DEGRADED: "Degraded performance",
    PARTIAL: "Partial outage",
    MAJOR: "Major outage",
}
_BADNESS = list(STATUS_LABELS)
_BY_SEVERITY = {1: MAJOR, 2: PARTIAL}  # P3 and P4: degraded performance
STATUS_PAGE_DAYS = 14
STATUS_PAGE_UPDATES = 3  # latest public updates shown per incident
OPEN_STATUSES = [s for s in Incident.Status.values if s not in {"resolved", "review", "closed"}]


def _worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=_BADNESS.index, default=OPERATIONAL)


UPTIME_DAYS = 90
PAST_INCIDENTS = 20  # resolved public incidents listed, newest first, within UPTIME_DAYS
DOWN_MAX_RANK = 2  # P1 and P2 count as downtime; P3/P4 degrade a service without taking it down


@dataclass(frozen=True)
class UptimeDay:
    day: date
    down_minutes: int
    measured_minutes: int  # 1440, or the minutes elapsed so far today

    @property
    def percent(self) -> float:
        return 100.0 * (1 - self.down_minutes / self.measured_minutes) if self.measured_minutes else 100.0

    @property
    def level(self) -> str:
        """The bar's colour: any downtime is partial, an hour or more is major."""
        return "ok" if not self.down_minutes else "partial" if self.down_minutes < 60 else "major"

    @property
    def label(self) -> str:
        """What the day's bar says. Formatted here, not with template filters: the page shows 90 days per service."""
        return f"{self.day:%Y-%m-%d}: {self.percent:.2f}%"


@dataclass(frozen=True)
class ServiceRow:
    service: Service
    status: str
    days: list[UptimeDay]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def uptime_percent(self) -> float:
        measured = sum(day.measured_minutes for day in self.days)
        return 100.0 * (1 - sum(day.down_minutes for day in self.days) / measured) if measured else 100.0


@dataclass(frozen=True)
class StatusPage:
    overall: str
    services: list[ServiceRow]
    incidents: Sequence[Incident]
    past_incidents: Sequence[Incident]
    maintenance: list[CalendarEntry]

    @property
    def overall_label(self) -> str:
        return STATUS_LABELS[self.overall]


def service_uptime(
    *, services: Sequence[Service], now: datetime, days: int = UPTIME_DAYS
) -> dict[int, list[UptimeDay]]:
    """Per service, its last `days` UTC days, oldest first. The rule: a service is down while a public P1 or P2
    incident affecting it is open, from detection to resolution (or now); overlapping incidents count once.
    One query whatever `days` is."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time(), tzinfo=UTC)
    spans: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    rows = (
        Incident.objects.filter(is_public=True, severity__rank__lte=DOWN_MAX_RANK, detected_at__lt=now,
                                services__isnull=False)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=start))
        .order_by()  # `_merged` sorts each service's spans
        .values_list("services", "detected_at", "resolved_at")
    )  # fmt: skip
    for service_id, detected, resolved in rows:
        spans[service_id].append((max(detected, start), min(resolved or now, now)))
    result = {}
    for service in services:
        down = [0] * days
        for begin, end in _merged(spans[service.pk]):
            while begin < end:
                index = (begin.date() - first).days
                day_end = datetime.combine(begin.date() + timedelta(days=1), time(), tzinfo=UTC)
                down[index] += int((min(end, day_end) - begin).total_seconds() // 60)
                begin = day_end
        result[service.pk] = [
            UptimeDay(day=first + timedelta(days=i), down_minutes=minutes,
                      measured_minutes=1440 if first + timedelta(days=i) < today else _minutes_into(now))
            for i, minutes in enumerate(down)
        ]  # fmt: skip
    return result


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        elif begin < end:
            merged.append((begin, end))
    return merged


def _minutes_into(now: datetime) -> int:
    utc = now.astimezone(UTC)
    return utc.hour * 60 + utc.minute


# Everyone an incident affects reads the public status page, most while one is open: its answer is kept for the
# minute it was computed in (uptime counts minutes) and dropped the moment anything it shows changes
# (maintenance/apps.py). A change written around the signals (a queryset update) shows within the minute.
STATUS_PAGE = DerivedCache("status-page")


def status_page(*, now: datetime) -> StatusPage:
    """What the public may see: public open incidents with their public updates, each service's uptime history,
    resolved public incidents, and maintenance now and ahead.

    Internal incidents and internal updates never appear.
    """
    return STATUS_PAGE.get_for_the_minute(lambda: _status_page(now=now), now=now)  # type: ignore[no-any-return]


def _status_page(*, now: datetime) -> StatusPage:
    public_updates = StatusUpdate.objects.filter(is_public=True).order_by("-posted_at", "-pk")
    public = (
        Incident.objects.filter(is_public=True)
        .select_related("severity")
        .prefetch_related("services", Prefetch("status_updates", queryset=public_updates, to_attr="public_updates"))
    )
    incidents = list(public.filter(status__in=OPEN_STATUSES).order_by("severity__rank", "-detected_at"))
    past_incidents = list(
        public.exclude(status__in=OPEN_STATUSES)
        .filter(resolved_at__gte=now - timedelta(days=UPTIME_DAYS))
        .order_by("-resolved_at")[:PAST_INCIDENTS]
    )
    maintenance = [
        entry
        for entry in calendar_entries(start=now, end=now + timedelta(days=STATUS_PAGE_DAYS))
        if entry.status != Status.COMPLETED
    ]
    per_service: dict[int, list[str]] = defaultdict(list)
    unattributed = []
    for incident in incidents:
        status = _BY_SEVERITY.get(incident.severity.rank, DEGRADED)
        services = list(incident.services.all())
        for service in services:
            per_service[service.pk].append(status)
        if not services:
            unattributed.append(status)
    for entry in maintenance:
        if entry.status in {Status.IN_PROGRESS, Status.EXTENDED}:
            for service in entry.window.services.all():
                per_service[service.pk].append(MAINTENANCE)
    services = list(Service.objects.all())
    uptime = service_uptime(services=services, now=now)
    rows = [ServiceRow(service, _worst(per_service[service.pk]), uptime[service.pk]) for service in services]
    overall = _worst([row.status for row in rows] + unattributed)
    return StatusPage(
        overall=overall, services=rows, incidents=incidents, past_incidents=past_incidents, maintenance=maintenance
    )
