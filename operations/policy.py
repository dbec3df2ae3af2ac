"""The operations rules, and the two questions they ask elsewhere: the freeze calendar (`deploy_freeze`) and the
on-call schedule (`primary_oncall`). Everything in this app that asks either question calls these."""

import importlib.util
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError

from incidents.models import Incident, Service
from maintenance.policy import FreezeStatus, freeze_status
from operations.models import BackupSchedule, BurnRateRule, ChecklistTemplate, Deployment
from portal.accounts.models import User
from portal.core.models import Environment
from portal.notifications.models import Severity
from portal.scheduling import (
    Recurrence,
    RecurringWindow,
    ScheduleError,
    Span,
    get_zone,
    next_occurrence,
    shift_at,
)

# Deployments to an incident's services this long before it was detected are its "recent changes".
RECENT_CHANGES_BEFORE = timedelta(hours=24)

DeploymentStatus = Deployment.Status
DEPLOYMENT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    DeploymentStatus.PLANNED: (DeploymentStatus.STARTED,),
    DeploymentStatus.STARTED: (DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.ROLLED_BACK),
    DeploymentStatus.SUCCEEDED: (DeploymentStatus.ROLLED_BACK,),
    DeploymentStatus.FAILED: (DeploymentStatus.ROLLED_BACK,),
    DeploymentStatus.ROLLED_BACK: (),
}

# The checklists a deployment gets, by environment; the pre-deployment one gates its start.
DEPLOYMENT_CHECKLISTS: dict[str, tuple[str, ...]] = {
    Environment.PRODUCTION: (ChecklistTemplate.Kind.PRE_DEPLOYMENT, ChecklistTemplate.Kind.POST_DEPLOYMENT),
    Environment.STAGING: (ChecklistTemplate.Kind.STAGING_VERIFICATION,),
}
GATING_CHECKLIST = ChecklistTemplate.Kind.PRE_DEPLOYMENT

# A page wakes someone (the critical route: pager, chat, email, SMS); a ticket waits for working hours (chat, email).
BURN_ALERT_SEVERITY = {BurnRateRule.Action.PAGE: Severity.CRITICAL, BurnRateRule.Action.TICKET: Severity.WARNING}


# The freeze calendar


FreezeCheck = Callable[[str, datetime, str | None, Incident | None], FreezeStatus]


def deploy_freeze(
    environment: str, at: datetime, change: str | None = None, incident: Incident | None = None
) -> FreezeStatus:
    """May `change` deploy to `environment` at `at`, as an emergency for `incident` if one is named? The freeze
    calendar's answer, approved exceptions included."""
    return freeze_status(environment, at, change, emergency=incident is not None, incident=incident)


# The on-call schedule

AssigneeResolver = Callable[[Service | None, datetime], User | None]


def primary_oncall(service: Service | None, at: datetime) -> User | None:
    """The primary on-call at `at` of the first rotation (by name) covering `service` that has one, else of any
    rotation: who gets the operations checklists and the SLO pages."""
    # Rotations (oncall.models.Rotation, covering services) and oncall.selectors.oncall_at land with the on-call
    # work. Until then nobody is on call, and checklists stay unassigned.
    if importlib.util.find_spec("oncall.selectors") is None:
        return None
    from oncall.models import Rotation
    from oncall.selectors import oncall_at

    rotations = Rotation.objects.order_by("name")
    if service is not None and rotations.filter(services=service).exists():
        rotations = rotations.filter(services=service)
    for rotation in rotations:
        if (person := oncall_at(rotation, at=at, layer="primary")) is not None:
            return person
    return None


# Periods of the operations checklists, in OPERATIONS_TIMEZONE

# A Monday that is also the first of a month and of a quarter: every period rule has a boundary on it.
_PERIODS_FROM = date(2024, 1, 1)
PERIOD_RULES = {
    ChecklistTemplate.Kind.DAILY: "FREQ=DAILY",
    ChecklistTemplate.Kind.WEEKLY: "FREQ=WEEKLY;BYDAY=MO",
    ChecklistTemplate.Kind.MONTHLY: "FREQ=MONTHLY;BYMONTHDAY=1",
    ChecklistTemplate.Kind.QUARTERLY: "FREQ=MONTHLY;BYMONTH=1,4,7,10;BYMONTHDAY=1",
}


def checklist_period(kind: str, *, at: datetime) -> Span:
    """The day, week (from Monday), month or quarter containing `at`, as local midnights in OPERATIONS_TIMEZONE."""
    boundaries = Recurrence(
        rrule=PERIOD_RULES[ChecklistTemplate.Kind(kind)],
        dtstart=_PERIODS_FROM,
        start_time=time(0),
        zone=settings.OPERATIONS_TIMEZONE,
    )
    period = shift_at(boundaries, at=at)
    if period is None:  # only before 2024: the rules never end
        raise ScheduleError("is before the first checklist period", field="at")
    return Span(start=period.start, end=period.end)


def operations_day(at: datetime) -> date:
    """The local date of `at` in OPERATIONS_TIMEZONE: the day a backup verification counts for."""
    return at.astimezone(get_zone(settings.OPERATIONS_TIMEZONE)).date()


# Backups

_BACKUPS_FROM = date(2024, 1, 1)


def backup_recurrence(schedule: BackupSchedule) -> RecurringWindow:
    """The schedule's runs, as one-minute windows at each occurrence of its RRULE (UTC)."""
    if not schedule.rrule or schedule.start_time is None:
        raise ValidationError({"rrule": "A continuous backup has no runs to list."})
    try:
        recurrence = Recurrence(rrule=schedule.rrule, dtstart=_BACKUPS_FROM, start_time=schedule.start_time, zone="UTC")
    except ScheduleError as exc:
        raise ValidationError({exc.field or "rrule": exc.message}) from exc
    return RecurringWindow(recurrence=recurrence, duration=timedelta(minutes=1))


def next_backup(schedule: BackupSchedule, *, after: datetime) -> datetime | None:
    """When the schedule next runs after `after`; None for continuous backups."""
    if not schedule.rrule:
        return None
    occurrence = next_occurrence(backup_recurrence(schedule), after=after)
    return occurrence.start if occurrence else None
