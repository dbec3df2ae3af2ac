"""Every change to maintenance windows, occurrences, freeze rules and freeze exceptions goes through here."""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, Service
from maintenance import ical, policy
from maintenance.models import (
    ChecklistItem,
    FreezeException,
    FreezePass,
    FreezeRule,
    MaintenanceNotice,
    MaintenanceOccurrence,
    MaintenanceWindow,
    OccurrenceEvent,
)
from operations.models import Procedure, ProcedureRun
from operations.services.procedures import procedure_run_start
from portal.accounts.models import User
from portal.accounts.selectors import approvers
from portal.core.models import Environment
from portal.errors import ApplicationError, ChecklistOpenError, ConflictError, ForbiddenError
from portal.locking import lock_row
from portal.notifications.models import EventKind
from portal.notifications.models import Severity as NotificationSeverity
from portal.notifications.services import notify
from portal.scheduling import ScheduleError, get_zone
from portal.text import length_words

Status = MaintenanceOccurrence.Status
EMERGENCY_PROCEDURE = "emergency-maintenance"
Notice = MaintenanceNotice.Kind

NOTICE_EVENTS = {
    Notice.SCHEDULED: (EventKind.MAINTENANCE_SCHEDULED, "Scheduled maintenance", "REQUEST"),
    Notice.RESCHEDULED: (EventKind.MAINTENANCE_RESCHEDULED, "Maintenance rescheduled", "REQUEST"),
    Notice.CANCELLED: (EventKind.MAINTENANCE_CANCELLED, "Maintenance cancelled", "CANCEL"),
    Notice.STARTED: (EventKind.MAINTENANCE_STARTED, "Maintenance started", None),
    Notice.COMPLETED: (EventKind.MAINTENANCE_COMPLETED, "Maintenance completed", None),
}
WINDOW_FIELDS = {"name", "description", "expected_impact", "owner", "services", "active", "notice_lead"}


def _aware(value: datetime, field: str) -> datetime:
    if value.utcoffset() is None:
        raise ApplicationError("Give the time with its UTC offset, e.g. 2026-12-01T02:00:00Z.", field=field)
    return value


def _check_length(kind: str, length: timedelta, *, field: str) -> None:
    """An occurrence lasts no longer than its kind of window allows, as planned and as rescheduled."""
    if length > (longest := policy.LONGEST_OCCURRENCE[kind]):
        label = MaintenanceWindow.Kind(kind).label
        raise ApplicationError(f"{label} maintenance lasts at most {length_words(longest)}.", field=field)


def _event(
    occurrence: MaintenanceOccurrence, *, kind: str, message: str, actor: User | None, at: datetime, **data: object
) -> OccurrenceEvent:
    return OccurrenceEvent.objects.create(
        occurrence=occurrence, kind=kind, message=message, actor=actor, at=at, data=data
    )


def when(occurrence: MaintenanceOccurrence) -> str:
    start, end = occurrence.starts_at, occurrence.ends_at
    end_text = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %Y-%m-%d %H:%M}"
    return f"{start:%a %Y-%m-%d %H:%M}-{end_text} UTC"


# Windows


def window_create(
    *,
    name: str,
    kind: str,
    actor: User,
    duration: timedelta,
    notice_lead: timedelta,
    services: Iterable[Service] = (),
    owner: User | None = None,
    expected_impact: str = "",
    description: str = "",
    environment: str = Environment.PRODUCTION,
    rrule: str = "",
    dtstart: date | None = None,
    start_time: time | None = None,
    zone: str = "UTC",
    starts_at: datetime | None = None,
    now: datetime | None = None,
) -> MaintenanceWindow:
    """A recurring window (RRULE from `dtstart` at `start_time` in `zone`) or a one-off one at `starts_at`."""
    now = now or timezone.now()
    if kind not in {MaintenanceWindow.Kind.RECURRING, MaintenanceWindow.Kind.ONE_OFF}:
        raise ApplicationError("Kind must be recurring or one_off; emergencies have their own action.", field="kind")
    if not name.strip():
        raise ApplicationError("Give the window a name.", field="name")
    if duration <= timedelta(0):
        raise ApplicationError("The duration must be positive.", field="duration")
    _check_length(kind, duration, field="duration")
    if notice_lead < timedelta(0):
        raise ApplicationError("The notice lead time cannot be negative.", field="notice_lead")
    policy.require_environment(environment)
    window = MaintenanceWindow(
        name=name.strip(),
        kind=kind,
        description=description,
        expected_impact=expected_impact,
        environment=environment,
        owner=owner,
        duration=duration,
        notice_lead=notice_lead,
        zone=zone,
    )
    if kind == MaintenanceWindow.Kind.RECURRING:
        if not rrule:
            raise ApplicationError("A recurring window needs an RRULE, e.g. FREQ=WEEKLY;BYDAY=TU.", field="rrule")
        if dtstart is None or start_time is None:
            raise ApplicationError("A recurring window needs dtstart and start_time.", field=_missing(dtstart))
        window.rrule, window.dtstart, window.start_time = rrule.strip().upper(), dtstart, start_time
        policy.schedule(window)  # ScheduleError names rrule, dtstart, start_time or zone
    else:
        if starts_at is None:
            raise ApplicationError("A one-off window needs starts_at.", field="starts_at")
        if _aware(starts_at, "starts_at") <= now:
            raise ApplicationError(
                "A one-off window starts in the future; use emergency maintenance now.", field="starts_at"
            )
        window.starts_at = starts_at
        get_zone(zone)
    with transaction.atomic():
        _save_new(window)
        window.services.set(services)
        if kind == MaintenanceWindow.Kind.ONE_OFF and starts_at is not None:  # checked above; narrows the type
            _materialize(window, original_start=starts_at, actor=actor, now=now)
    return window


def _missing(dtstart: object) -> str:
    return "dtstart" if dtstart is None else "start_time"


def _save_new(window: MaintenanceWindow) -> None:
    try:
        with transaction.atomic():
            window.save()
    except IntegrityError as exc:
        raise ApplicationError(f"A window named {window.name!r} exists already.", field="name") from exc


def window_create_emergency(
    *,
    name: str,
    actor: User,
    duration: timedelta,
    services: Iterable[Service] = (),
    expected_impact: str = "",
    description: str = "",
    environment: str = Environment.PRODUCTION,
    incident: Incident | None = None,
    now: datetime | None = None,
) -> MaintenanceOccurrence:
    """Emergency maintenance: starts now, stakeholders told as soon as possible (the notice goes out with it). Its
    pre-maintenance items cannot be done beforehand. During a freeze it names the open P1/P2 `incident` it answers;
    a freeze that still holds it (blocked: a second person approves) leaves it notified, the reason on its history."""
    now = now or timezone.now()
    if not name.strip():
        raise ApplicationError("Say what the emergency maintenance is.", field="name")
    if duration <= timedelta(0):
        raise ApplicationError("The duration must be positive.", field="duration")
    _check_length(MaintenanceWindow.Kind.EMERGENCY, duration, field="duration")
    policy.require_environment(environment)
    window = MaintenanceWindow(
        name=f"{name.strip()} ({now:%Y-%m-%d %H:%M} UTC)",
        kind=MaintenanceWindow.Kind.EMERGENCY,
        description=description,
        expected_impact=expected_impact,
        environment=environment,
        owner=actor,
        starts_at=now,
        duration=duration,
        notice_lead=timedelta(0),
    )
    with transaction.atomic():
        _save_new(window)
        window.services.set(services)
        occurrence = _materialize(window, original_start=now, actor=actor, now=now)
        occurrence = occurrence_transition(occurrence=occurrence, to_status=Status.NOTIFIED, actor=actor, now=now)
        if incident is not None:
            _emergency_procedure_start(occurrence, incident=incident, actor=actor, now=now)
        verdict = policy.freeze_status(
            environment, now, policy.occurrence_change(occurrence), emergency=incident is not None, incident=incident
        )
        if not verdict.allowed:
            # Declared and announced; a freeze holds its start until what the level asks is there (for a blocked
            # freeze, an approved exception for this occurrence's change).
            _event(
                occurrence, kind=OccurrenceEvent.Kind.TRANSITION, actor=actor, at=now,
                message=f"Not started: {' '.join(verdict.reasons)} {verdict.rule} Start it once a freeze exception "
                f"for {policy.occurrence_change(occurrence)!r} is approved.",
            )  # fmt: skip
            return occurrence
        return occurrence_transition(
            occurrence=occurrence, to_status=Status.IN_PROGRESS, actor=actor, incident=incident, now=now,
            override_reason="Emergency maintenance starts at once.",
        )  # fmt: skip


def _emergency_procedure_start(
    occurrence: MaintenanceOccurrence, *, incident: Incident, actor: User, now: datetime
) -> ProcedureRun | None:
    """The manual's emergency maintenance steps, run for the incident the maintenance answers (its steps post to
    #incidents, the status page and the review). Without an incident the occurrence page offers it."""
    procedure = Procedure.objects.filter(slug=EMERGENCY_PROCEDURE, active=True).first()
    if procedure is None:  # an Admin retired it
        return None
    return procedure_run_start(procedure=procedure, kind=ProcedureRun.Kind.INCIDENT, incident=incident,
                               maintenance=occurrence, actor=actor, now=now)  # fmt: skip


def window_update(*, window: MaintenanceWindow, actor: User, **changes: object) -> MaintenanceWindow:
    """Name, description, impact, owner, services, active, notice lead; the schedule itself stays (its occurrences
    keep their identity: reschedule or cancel them one by one)."""
    if unknown := set(changes) - WINDOW_FIELDS:
        raise ApplicationError(f"Cannot change {', '.join(sorted(unknown))} here.", field=sorted(unknown)[0])
    if "name" in changes and not str(changes["name"]).strip():
        raise ApplicationError("Give the window a name.", field="name")
    lead = changes.get("notice_lead")
    if isinstance(lead, timedelta) and lead < timedelta(0):
        raise ApplicationError("The notice lead time cannot be negative.", field="notice_lead")
    with transaction.atomic():
        window = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
        for field, value in changes.items():
            if field == "services":
                window.services.set(value)  # type: ignore[arg-type]
            else:
                setattr(window, field, value)
        try:
            with transaction.atomic():
                window.save()
        except IntegrityError as exc:
            raise ApplicationError(f"A window named {window.name!r} exists already.", field="name") from exc
        if isinstance(lead, timedelta):
            # Occurrences not yet announced follow the new lead time; sent notices stay sent.
            for occurrence in window.occurrences.select_for_update().filter(status=Status.SCHEDULED):
                occurrence.notice_due_at = occurrence.starts_at - lead
                occurrence.save(update_fields=["notice_due_at"])
    return window


# Occurrences


def _materialize(
    window: MaintenanceWindow, *, original_start: datetime, actor: User | None, now: datetime
) -> MaintenanceOccurrence:
    """The occurrence row for (window, original_start), created with its checklists if it is not there yet."""
    try:
        with transaction.atomic():
            occurrence = MaintenanceOccurrence.objects.create(
                window=window,
                original_start=original_start,
                starts_at=original_start,
                ends_at=original_start + _duration_at(window, original_start),
                owner=window.owner,
                expected_impact=window.expected_impact,
                notice_due_at=original_start - window.notice_lead,
            )
            lines = [(phase, text) for phase, texts in policy.CHECKLISTS.items() for text in texts]
            ChecklistItem.objects.bulk_create(
                ChecklistItem(occurrence=occurrence, phase=phase, position=position, text=text)
                for position, (phase, text) in enumerate(lines, start=1)
            )
            _event(
                occurrence,
                kind=OccurrenceEvent.Kind.CREATED,
                actor=actor,
                at=now,
                message=f"Scheduled for {when(occurrence)}",
            )
    except IntegrityError:  # materialized meanwhile (a concurrent sweep or request)
        return MaintenanceOccurrence.objects.get(window=window, original_start=original_start)
    return occurrence


def _duration_at(window: MaintenanceWindow, original_start: datetime) -> timedelta:
    # The engine knows the real length across a DST change (a 02:00-04:00 window may last 1 or 3 hours).
    instant = {"start": original_start, "end": original_start + timedelta(microseconds=1)}
    for span in policy.generated_spans(window, **instant):
        if span.start == original_start:
            return span.duration
    return window.duration


def occurrence_materialize(
    *, window: MaintenanceWindow, original_start: datetime, actor: User | None = None, now: datetime | None = None
) -> MaintenanceOccurrence:
    """The row for one occurrence the window's rule generates (to reschedule or cancel it ahead of time)."""
    now = now or timezone.now()
    _aware(original_start, "original_start")
    existing = MaintenanceOccurrence.objects.filter(window=window, original_start=original_start).first()
    if existing is not None:
        return existing
    instant = {"start": original_start, "end": original_start + timedelta(microseconds=1)}
    if original_start not in [span.start for span in policy.generated_spans(window, **instant)]:
        raise ApplicationError(
            f"{window.name} has no occurrence starting at {original_start.isoformat()}.", field="original_start"
        )
    if original_start + window.duration <= now:
        raise ApplicationError("That occurrence is over.", field="original_start")
    with transaction.atomic():
        return _materialize(window, original_start=original_start, actor=actor, now=now)


def _lock(occurrence: MaintenanceOccurrence) -> MaintenanceOccurrence:
    return lock_row(MaintenanceOccurrence.objects.select_related("window", "owner"), occurrence.pk)


def occurrence_transition(
    *,
    occurrence: MaintenanceOccurrence,
    to_status: str,
    actor: User | None,
    note: str = "",
    ends_at: datetime | None = None,
    incident: Incident | None = None,
    override_reason: str = "",
    now: datetime | None = None,
) -> MaintenanceOccurrence:
    """Move an occurrence along scheduled -> notified -> in progress -> completed (or cancelled / extended).

    Each move is on the history; notices go out for notified (the invitation), started, extended (an updated
    invitation), completed, and cancelled once stakeholders had been invited. Starting needs the pre-maintenance
    items ticked and completing the post-maintenance ones, unless `override_reason` says why not; starting during a
    freeze needs what the freeze's level asks (an emergency names its `incident`).
    """
    now = now or timezone.now()
    override_reason = override_reason.strip()
    with transaction.atomic():
        occurrence = _lock(occurrence)
        allowed = policy.allowed_transitions(occurrence)
        if to_status not in allowed:
            names = ", ".join(Status(status).label for status in allowed) or "none (it is over)"
            target = Status(to_status).label if to_status in Status.values else repr(to_status)
            raise ApplicationError(
                f"{occurrence} cannot go from {occurrence.get_status_display()} to {target}. Allowed next: {names}.",
                field="to_status",
                extra={"allowed": list(allowed)},
            )
        previous = occurrence.status
        gate = policy.CHECKLIST_GATES.get(to_status)
        overridden = _checklist_gate(occurrence, phase=gate, override_reason=override_reason) if gate else []
        verdict = _freeze_gate(occurrence, incident=incident, now=now) if to_status == Status.IN_PROGRESS else None
        invited = occurrence.notices.filter(kind__in=[Notice.SCHEDULED, Notice.RESCHEDULED]).exists()
        notice = None
        if to_status == Status.NOTIFIED:
            occurrence.notified_at, notice = now, Notice.SCHEDULED
        elif to_status == Status.IN_PROGRESS:
            occurrence.started_at, notice = now, Notice.STARTED
        elif to_status == Status.EXTENDED:
            if ends_at is None or _aware(ends_at, "ends_at") <= max(occurrence.ends_at, now):
                raise ApplicationError(
                    "Extending needs a new end after the current one and after now.", field="ends_at"
                )
            occurrence.ends_at, notice = ends_at, Notice.RESCHEDULED
            occurrence.sequence += 1
        elif to_status == Status.COMPLETED:
            occurrence.completed_at, notice = now, Notice.COMPLETED
        elif to_status == Status.CANCELLED:
            occurrence.sequence += 1  # RFC 5546: a CANCEL carries a higher SEQUENCE than the request it cancels
            notice = Notice.CANCELLED if invited else None
        occurrence.status = to_status
        occurrence.save()
        message = f"{Status(previous).label} → {Status(to_status).label}"
        if to_status == Status.EXTENDED:
            message += f" until {occurrence.ends_at:%Y-%m-%d %H:%M} UTC"
        _event(
            occurrence,
            kind=OccurrenceEvent.Kind.TRANSITION,
            actor=actor,
            at=now,
            message=message + (f": {note}" if note else ""),
            **{"from": previous, "to": to_status},
        )
        if overridden and gate:
            phase = ChecklistItem.Phase(gate).label.lower()
            _event(
                occurrence, kind=OccurrenceEvent.Kind.CHECKLIST, actor=actor, at=now,
                message=f"{len(overridden)} {phase} item(s) left open, overridden: {override_reason}",
                override_reason=override_reason, open_items=overridden,
            )  # fmt: skip
        if verdict is not None:
            freeze_pass_record(
                verdict=verdict, environment=occurrence.window.environment, subject=FreezePass.Subject.MAINTENANCE,
                description=str(occurrence), link=reverse("maintenance-occurrence", args=[occurrence.pk]),
                actor=actor, at=now,
            )  # fmt: skip
        if notice is not None:
            _send_notice(occurrence, kind=notice, actor=actor, now=now, note=note)
    return occurrence


def _checklist_gate(occurrence: MaintenanceOccurrence, *, phase: str, override_reason: str) -> list[str]:
    """The open items of `phase` that `override_reason` lets the occurrence past (409 without a reason)."""
    items = occurrence.checklist.filter(phase=phase, done_at__isnull=True).order_by("position")
    open_items = list(items.values_list("text", flat=True))
    if open_items and not override_reason:
        label = ChecklistItem.Phase(phase).label.lower()
        raise ChecklistOpenError(
            f"{len(open_items)} {label} item(s) are open: {'; '.join(open_items)}. Tick them, or say why to go on "
            "without them.",
            field="override_reason",
            extra={"open_items": open_items},
        )
    return open_items


def _freeze_gate(occurrence: MaintenanceOccurrence, *, incident: Incident | None, now: datetime) -> policy.FreezeStatus:
    """Starting maintenance is a change: the freeze calendar's levels decide, as for a deployment."""
    window = occurrence.window
    verdict = policy.freeze_status(
        window.environment, now, policy.occurrence_change(occurrence), emergency=incident is not None,
        incident=incident,
    )  # fmt: skip
    if not verdict.allowed:
        raise ConflictError(
            f"{Environment(window.environment).label} is frozen: {' '.join(verdict.reasons)} {verdict.rule} Request a "
            f"freeze exception for change {policy.occurrence_change(occurrence)!r}, or start it as an emergency.",
            field="incident",
            extra={"freeze": {"level": verdict.level, "rule": verdict.rule, "reasons": verdict.reasons}},
        )
    return verdict


def occurrence_reschedule(
    *,
    occurrence: MaintenanceOccurrence,
    starts_at: datetime,
    ends_at: datetime,
    actor: User,
    reason: str = "",
    now: datetime | None = None,
) -> MaintenanceOccurrence:
    """Move one occurrence. Invited stakeholders get an updated invitation (same UID, higher SEQUENCE) at once;
    otherwise the first notice goes out at the lead time before the new start."""
    now = now or timezone.now()
    if _aware(starts_at, "starts_at") <= now:
        raise ApplicationError("The new start must be in the future.", field="starts_at")
    if _aware(ends_at, "ends_at") <= starts_at:
        raise ApplicationError("The new end must be after the new start.", field="ends_at")
    _check_length(occurrence.window.kind, ends_at - starts_at, field="ends_at")
    with transaction.atomic():
        occurrence = _lock(occurrence)
        if occurrence.status not in policy.RESCHEDULABLE:
            raise ApplicationError(
                f"A {occurrence.get_status_display().lower()} occurrence cannot be rescheduled; only scheduled or "
                "notified ones can.",
                field="starts_at",
            )
        if (starts_at, ends_at) == (occurrence.starts_at, occurrence.ends_at):
            raise ApplicationError("That is when it is already scheduled.", field="starts_at")
        before = when(occurrence)
        occurrence.starts_at, occurrence.ends_at = starts_at, ends_at
        occurrence.notice_due_at = starts_at - occurrence.window.notice_lead
        occurrence.sequence += 1
        occurrence.save()
        _event(
            occurrence,
            kind=OccurrenceEvent.Kind.RESCHEDULED,
            actor=actor,
            at=now,
            message=f"{before} → {when(occurrence)}" + (f": {reason}" if reason else ""),
            starts_at=starts_at.isoformat(),
            ends_at=ends_at.isoformat(),
        )
        if occurrence.status == Status.NOTIFIED:
            _send_notice(occurrence, kind=Notice.RESCHEDULED, actor=actor, now=now, note=reason)
    return occurrence


def _send_notice(
    occurrence: MaintenanceOccurrence, *, kind: str, actor: User | None, now: datetime, note: str = ""
) -> MaintenanceNotice | None:
    """Record and notify one notice; a notice already recorded for this version of the occurrence is not resent."""
    event, heading, method = NOTICE_EVENTS[Notice(kind)]
    window = occurrence.window
    try:
        with transaction.atomic():
            notice = MaintenanceNotice.objects.create(
                occurrence=occurrence, kind=kind, sequence=occurrence.sequence, sent_at=now
            )
    except IntegrityError:
        return None
    services = list(window.services.all())
    lines = [
        f"{heading}: {window.name}",
        f"When: {when(occurrence)}",
        f"Affected services: {', '.join(service.name for service in services) or 'none listed'}",
    ]
    if occurrence.expected_impact:
        lines.append(f"Expected impact: {occurrence.expected_impact}")
    if note:
        lines.append(f"Note: {note}")
    if occurrence.owner:
        lines.append(f"Owner: {occurrence.owner.get_full_name() or occurrence.owner.get_username()}")
    if method:
        lines.append("The attached invitation keeps your calendar up to date.")
    emergency = window.kind == MaintenanceWindow.Kind.EMERGENCY
    notification = notify(
        event=event,
        severity=NotificationSeverity.WARNING if emergency else NotificationSeverity.INFO,
        title=f"{heading}: {window.name}, {when(occurrence)}",
        summary="\n".join(lines),
        url=ical.occurrence_url(occurrence),
        services=services,
        recipients=[occurrence.owner] if occurrence.owner else [],
        source=f"maintenance:{occurrence.pk}",
        calendar=ical.occurrence_invitation(occurrence, method=method, now=now) if method else "",
        created_by=actor,
        now=now,
    )
    notice.notification = notification
    notice.save(update_fields=["notification"])
    _event(
        occurrence,
        kind=OccurrenceEvent.Kind.NOTICE,
        actor=actor,
        at=now,
        message=f"{Notice(kind).label} notice sent (sequence {occurrence.sequence})",
        notice=notice.pk,
        notification=notification.pk,
    )
    return notice


def maintenance_sweep(*, now: datetime | None = None) -> int:
    """Beat's job: materialize occurrences coming within their notice horizon, then send the notices now due.

    Each notice is sent once: the row is locked and its status re-checked, and MaintenanceNotice's unique
    (occurrence, kind, sequence) stops a second one even if two sweeps race. Returns the notices sent.
    """
    now = now or timezone.now()
    for window in MaintenanceWindow.objects.filter(active=True, kind=MaintenanceWindow.Kind.RECURRING):
        horizon = now + window.notice_lead + policy.MATERIALIZE_MARGIN
        try:
            spans = policy.generated_spans(window, start=now, end=horizon)
        except ScheduleError:
            continue  # an Admin's broken rule must not stop the other windows' notices
        known = set(
            window.occurrences.filter(original_start__in=[s.start for s in spans]).values_list(
                "original_start", flat=True
            )
        )
        for span in spans:
            if span.start not in known and span.start > now:
                with transaction.atomic():
                    _materialize(window, original_start=span.start, actor=None, now=now)
    due = MaintenanceOccurrence.objects.filter(
        status=Status.SCHEDULED, notice_due_at__lte=now, starts_at__gt=now, window__active=True
    ).values_list("pk", flat=True)
    return sum(_send_due_notice(pk, now=now) for pk in due)


def _send_due_notice(occurrence_id: int, *, now: datetime) -> bool:
    with transaction.atomic():
        occurrence = (
            MaintenanceOccurrence.objects.select_for_update(skip_locked=True)
            .filter(pk=occurrence_id, status=Status.SCHEDULED, notice_due_at__lte=now)
            .first()
        )
        if occurrence is None:  # taken by a concurrent sweep, or no longer due
            return False
        occurrence_transition(
            occurrence=occurrence, to_status=Status.NOTIFIED, actor=None, now=now, note="notice sent at the lead time"
        )
    return True


def checklist_item_tick(*, item: ChecklistItem, done: bool, actor: User, now: datetime | None = None) -> ChecklistItem:
    now = now or timezone.now()
    with transaction.atomic():
        item = lock_row(ChecklistItem.objects.select_related("occurrence"), item.pk)
        if not item.occurrence.is_open:
            raise ApplicationError(
                f"The occurrence is {item.occurrence.get_status_display().lower()}; its checklist is closed.",
                field="done",
            )
        if done == (item.done_at is not None):
            return item
        item.done_at, item.done_by = (now, actor) if done else (None, None)
        item.save(update_fields=["done_at", "done_by"])
        _event(
            item.occurrence,
            kind=OccurrenceEvent.Kind.CHECKLIST,
            actor=actor,
            at=now,
            message=f"{'Done' if done else 'Not done'}: {item.text}",
            item=item.pk,
        )
    return item


# Freezes


def freeze_rule_create(*, actor: User, **fields: object) -> FreezeRule:
    """A freeze rule (Admins add one-off freezes; the seeded rules are edited with freeze_rule_update)."""
    rule = FreezeRule(created_by=actor, **fields)
    policy.validate_freeze_rule(rule)
    return _save_rule(rule)


def freeze_rule_update(*, rule: FreezeRule, actor: User, **changes: object) -> FreezeRule:
    with transaction.atomic():
        rule = FreezeRule.objects.select_for_update().get(pk=rule.pk)
        for field, value in changes.items():
            setattr(rule, field, value)
        policy.validate_freeze_rule(rule)
        return _save_rule(rule)


def _save_rule(rule: FreezeRule) -> FreezeRule:
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError as exc:
        raise ApplicationError(f"A freeze rule named {rule.name!r} exists already.", field="name") from exc
    return rule


def freeze_pass_record(
    *,
    verdict: policy.FreezeStatus,
    environment: str,
    subject: str,
    description: str,
    link: str = "",
    actor: User | None,
    at: datetime,
) -> FreezePass | None:
    """List a change that went through a freeze on the freeze page (nothing when no freeze held it)."""
    if verdict.level is None or verdict.passed_by is None:
        return None
    return FreezePass.objects.create(
        at=at, environment=environment, level=verdict.level, passed_by=verdict.passed_by, subject=subject,
        description=description[:300], link=link, reasons=list(verdict.reasons), incident_id=verdict.incident_id,
        approved_by_id=verdict.approved_by_id, actor=actor,
    )  # fmt: skip


def freeze_exception_request(
    *,
    change: str,
    reason: str,
    environment: str,
    starts_at: datetime,
    ends_at: datetime,
    actor: User,
    incident: Incident | None = None,
    now: datetime | None = None,
) -> FreezeException:
    """Ask to deploy `change` during a freeze. Linked to an open P1/P2 `incident`, it is an emergency: once a second
    person approves it, it gets through even a blocked freeze."""
    now = now or timezone.now()
    if incident is not None and (shortfall := policy.emergency_shortfall(incident)):
        raise ApplicationError(shortfall, field="incident")
    if not change.strip():
        raise ApplicationError("Name the change (its id or link) as the pipeline sends it.", field="change")
    if not reason.strip():
        raise ApplicationError("Say why it cannot wait for the freeze to end.", field="reason")
    policy.require_environment(environment)
    if _aware(ends_at, "ends_at") <= _aware(starts_at, "starts_at"):
        raise ApplicationError("The exception must end after it starts.", field="ends_at")
    if ends_at - starts_at > policy.LONGEST_FREEZE_EXCEPTION:
        raise ApplicationError(
            f"An exception lasts at most {length_words(policy.LONGEST_FREEZE_EXCEPTION)}: ask for the time the change "
            "needs.",
            field="ends_at",
        )
    if ends_at <= now:
        raise ApplicationError("The exception would be over already.", field="ends_at")
    with transaction.atomic():
        exception = FreezeException.objects.create(
            change=change.strip(),
            reason=reason.strip(),
            environment=environment,
            starts_at=starts_at,
            ends_at=ends_at,
            requested_by=actor,
            incident=incident,
        )
        # Those who may decide hear of it, as they do for cluster actions awaiting a second person.
        notify(
            event=EventKind.APPROVAL_REQUESTED,
            severity=NotificationSeverity.WARNING,
            title=f"Freeze exception for {exception.change} ({environment}) needs a decision",
            summary=f"Requested by {actor} for {starts_at:%Y-%m-%d %H:%M}-{ends_at:%Y-%m-%d %H:%M} UTC because: "
            f"{exception.reason}",
            url=settings.PORTAL_BASE_URL + reverse("freeze-calendar") + f"#exception-{exception.pk}",
            recipients=approvers(excluding=actor),
            source=f"freeze-exception:{exception.pk}",
            created_by=actor,
            now=now,
        )
    return exception


def freeze_exception_decide(
    *, exception: FreezeException, approve: bool, actor: User, note: str = "", now: datetime | None = None
) -> FreezeException:
    """Approve or reject a pending exception: by an Incident Commander or Admin other than the requester."""
    from portal.accounts.roles import Role, has_role

    if not has_role(actor, Role.INCIDENT_COMMANDER):
        raise ForbiddenError("Deciding on an exception requires the Incident Commander role.")
    with transaction.atomic():
        exception = FreezeException.objects.select_for_update().get(pk=exception.pk)
        if exception.requested_by_id == actor.pk:
            raise ForbiddenError("You cannot decide on your own exception request; ask another commander.")
        if exception.status != FreezeException.Status.PENDING:
            raise ConflictError(f"The exception was already {exception.get_status_display().lower()}.")
        exception.status = FreezeException.Status.APPROVED if approve else FreezeException.Status.REJECTED
        exception.decided_by, exception.decided_at, exception.decision_note = actor, now or timezone.now(), note
        exception.save()
    return exception
