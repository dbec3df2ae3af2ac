"""Every change to rotations, overrides, swaps, handoffs and calendar feeds: validated, locked, audited, notified."""

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone as django_timezone

from incidents.models import Incident, Service, TimelineEvent
from oncall import policy
from oncall.models import (
    CalendarFeed,
    Handoff,
    HandoffItem,
    Layer,
    Override,
    Participant,
    Rotation,
    RotationVersion,
    ShiftReminder,
    Swap,
)
from oncall.schedule import (
    INSTANT,
    LAYERS,
    Segment,
    Takeover,
    held_by,
    other_layer,
    paired_with_themselves,
    plan_at,
    planned_shift_at,
    takeovers,
)
from oncall.selectors import (
    open_incidents_for,
    plans,
    rotation_list,
    rotation_schedule,
    schedules,
    upcoming_events,
    version_at,
    with_versions,
)
from portal.accounts.models import User
from portal.accounts.services import token_hash
from portal.errors import ApplicationError, ConflictError, ForbiddenError
from portal.instants import check_date, check_instant
from portal.locking import lock_row
from portal.notifications.models import Channel, Delivery, EventKind
from portal.notifications.models import Severity as NotificationSeverity
from portal.notifications.services import notify
from portal.scheduling import Recurrence, ScheduleError, Span, get_zone, local_instant, shift_at, shifts_between

# The seeds' handoff checklist ("1. On-Call Procedures").
OUTGOING_CHECKLIST = (
    "Brief incoming on-call on current issues",
    "Share ongoing investigations",
    "Review open incidents and tickets",
    "Confirm upcoming events (deployments, maintenance)",
    "Transfer PagerDuty responsibility",
)
INCOMING_CHECKLIST = (
    "Test PagerDuty notifications",
    "Review Grafana dashboards",
    "Check recent alerts and incidents",
    "Verify VPN and kubectl access",
)
# Items the portal ticks itself, from what it sees (a delivered test page, the new on-call's first acknowledgement).
AUTOMATED_ITEMS = {
    "Test PagerDuty notifications": HandoffItem.Automation.TEST_PAGE,
    "Transfer PagerDuty responsibility": HandoffItem.Automation.PAGER_TRANSFER,
}
# A test page goes to the person (their pager, email and phone), not to the team's chat channels.
TEST_PAGE_CHANNELS = ("pager", "email", "sms")
# Each test-page item tests the channel it names: an email that got through says nothing about PagerDuty. With no
# such channel configured the item is never ticked for the person; they tick it by hand.
TEST_PAGE_EVIDENCE = {"Test PagerDuty notifications": Channel.Kind.PAGER}
HANDOFF_ACK_WITHIN = timedelta(hours=1)
# A rule must start a shift this soon: one that never fires (30 February) or has ended would leave nobody on call.
HANDOFF_HORIZON = timedelta(days=2 * 365)
# A sweep still opens handoffs (and tells leads) this long after the fact, should beat have been down.
HANDOFF_LOOKBACK = timedelta(days=1)
LEAD_NOTICE_LOOKBACK = timedelta(days=7)
UPCOMING_EVENTS_AHEAD = timedelta(days=7)
REMINDER_HORIZON = timedelta(hours=72)
DAY_BEFORE = timedelta(hours=24)
START_NOTICE_GRACE = timedelta(hours=1)
# A form filled in a minute ago asks for "now", not for the past.
OVERRIDE_START_GRACE = timedelta(minutes=5)

# The secondary is the primary's backup: the same person on both layers leaves the pager without one.
ONE_PERSON_ONE_LAYER = "one person cannot be both primary and secondary."

_SCHEDULE_FIELDS = {"zone": "timezone", "rrule": "handoff_rrule", "start_time": "handoff_time", "dtstart": "start_date"}


def rotation_url(rotation: Rotation) -> str:
    return settings.PORTAL_BASE_URL + reverse("oncall-rotation", args=[rotation.pk])


def handoff_url(handoff: Handoff) -> str:
    return settings.PORTAL_BASE_URL + reverse("oncall-handoff", args=[handoff.pk])


def _schedule_error(exc: ScheduleError) -> ApplicationError:
    """The engine names its own arguments; callers know them by the rotation's field names."""
    field = _SCHEDULE_FIELDS.get(exc.field or "", exc.field or "handoff_rrule")
    message = exc.message.removeprefix(f"{exc.field}: ")
    return ApplicationError(f"{field}: {message}", field=field)


def _instant(value: datetime, field: str) -> datetime:
    """An aware instant in the years schedules cover, or an error naming `field`."""
    if value.utcoffset() is None:
        raise ApplicationError(f"{field}: give a time zone offset.", field=field)
    return check_instant(value, field=field)


def _check_start_date(start_date: date) -> None:
    check_date(start_date, field="start_date")


def _check_handoffs(*, zone: str, rrule: str, handoff_time: time, start_date: date, at: datetime) -> None:
    """Refuse a rule the engine rejects, or one giving no shift within HANDOFF_HORIZON of `at` (when the version
    takes effect)."""
    _check_start_date(start_date)
    try:
        recurrence = Recurrence(rrule=rrule, dtstart=start_date, start_time=handoff_time, zone=zone)
        # Also refuses handoffs less than an hour apart.
        shifts = shifts_between(recurrence, start=at, end=at + HANDOFF_HORIZON)
    except ScheduleError as exc:
        raise _schedule_error(exc) from exc
    if not shifts:
        raise ApplicationError(
            f"handoff_rrule: {rrule.strip()!r} gives no shift in the two years from {at:%Y-%m-%d %H:%M} UTC (it never "
            "hands over, or only once), so nobody would be on call.",
            field="handoff_rrule",
        )


def _check_people(people: Sequence[User], *, field: str) -> None:
    seen: set[int] = set()
    for user in people:
        if user.pk in seen:
            raise ApplicationError(f"{field}: {user} is listed twice.", field=field)
        seen.add(user.pk)
        if not policy.may_be_on_call(user):
            raise ApplicationError(
                f"{field}: {user} cannot be on call (needs an active account with the Responder role).", field=field
            )


def _add_version(
    *, rotation: Rotation, effective_from: datetime, zone: str, rrule: str, handoff_time: time, start_date: date,
    primary: Sequence[User], secondary: Sequence[User], note: str, actor: User | None,
) -> RotationVersion:  # fmt: skip
    _check_handoffs(zone=zone, rrule=rrule, handoff_time=handoff_time, start_date=start_date, at=effective_from)
    if not primary:
        raise ApplicationError("participants: name at least one person.", field="participants")
    _check_people(primary, field="participants")
    _check_people(secondary, field="secondary_participants")
    if (doubled := paired_with_themselves(primary, secondary)) is not None:
        raise ApplicationError(
            f"secondary_participants: with these orders {doubled} is primary and secondary in the same shift: "
            f"{ONE_PERSON_ONE_LAYER}",
            field="secondary_participants",
        )
    if rotation.versions.filter(effective_from=effective_from).exists():
        raise ApplicationError(
            f"effective_from: a version already takes effect at {effective_from:%Y-%m-%d %H:%M} UTC.",
            field="effective_from",
        )
    version = RotationVersion.objects.create(
        rotation=rotation, effective_from=effective_from, timezone=zone, handoff_rrule=rrule.strip().upper(),
        handoff_time=handoff_time, start_date=start_date, note=note, created_by=actor,
    )  # fmt: skip
    for layer, people in ((Layer.PRIMARY, primary), (Layer.SECONDARY, secondary)):
        for position, user in enumerate(people):
            Participant.objects.create(version=version, layer=layer, position=position, user=user)
    return version


def rotation_create(
    *,
    name: str,
    start_date: date,
    participants: Sequence[User],
    actor: User | None,
    timezone: str = "UTC",
    handoff_rrule: str = "FREQ=WEEKLY;BYDAY=MO",
    handoff_time: time = time(9),
    secondary_participants: Sequence[User] = (),
    lead: User | None = None,
    services: Iterable[Service] = (),
    description: str = "",
) -> Rotation:
    """A rotation whose first version governs from the start of `start_date` (local); its first handoff is the
    rule's first occurrence on or after that date, and nobody is on call before it."""
    if not name.strip():
        raise ApplicationError("name: give the rotation a name.", field="name")
    _check_start_date(start_date)
    try:
        get_zone(timezone)
        effective_from = local_instant(day=start_date, wall_time=time(0), zone=timezone)
    except ScheduleError as exc:
        raise _schedule_error(exc) from exc
    with transaction.atomic():
        if Rotation.objects.filter(name=name.strip()).exists():
            raise ApplicationError(f"name: a rotation called {name.strip()!r} exists.", field="name")
        rotation = Rotation.objects.create(name=name.strip(), description=description, lead=lead)
        rotation.services.set(services)
        _add_version(
            rotation=rotation, effective_from=effective_from, zone=timezone, rrule=handoff_rrule,
            handoff_time=handoff_time, start_date=start_date, primary=participants, secondary=secondary_participants,
            note="Created", actor=actor,
        )  # fmt: skip
    return rotation


def rotation_update(
    *,
    rotation: Rotation,
    actor: User | None,
    name: str | None = None,
    description: str | None = None,
    lead: User | None = None,
    clear_lead: bool = False,
    services: Iterable[Service] | None = None,
) -> Rotation:
    """Name, description, lead and covered services: none of them changes who is on call, so no version."""
    with transaction.atomic():
        rotation = _lock(rotation)
        if name is not None:
            if not name.strip():
                raise ApplicationError("name: give the rotation a name.", field="name")
            if Rotation.objects.filter(name=name.strip()).exclude(pk=rotation.pk).exists():
                raise ApplicationError(f"name: a rotation called {name.strip()!r} exists.", field="name")
            rotation.name = name.strip()
        if description is not None:
            rotation.description = description
        if lead is not None or clear_lead:
            rotation.lead = lead
        rotation.save()
        if services is not None:
            rotation.services.set(services)
    return rotation


def rotation_version_add(
    *,
    rotation: Rotation,
    actor: User | None,
    effective_from: datetime | None = None,
    timezone: str | None = None,
    handoff_rrule: str | None = None,
    handoff_time: time | None = None,
    start_date: date | None = None,
    participants: Sequence[User] | None = None,
    secondary_participants: Sequence[User] | None = None,
    note: str = "",
    now: datetime | None = None,
) -> RotationVersion:
    """Change the schedule from `effective_from` on (default: the next handoff, so the running shift stays as it
    is), replacing changes scheduled after it. What is not given is kept from the version in force then. Never in
    the past."""
    now = now or django_timezone.now()
    with transaction.atomic():
        rotation = _lock(rotation)
        current = version_at(rotation, at=now)
        if effective_from is None:
            running = shift_at(current.handoffs, at=now) if current is not None else None
            effective_from = running.end if running is not None else now
        elif _instant(effective_from, "effective_from") < now:
            raise ApplicationError(
                "effective_from: a change cannot take effect in the past; who was on call stays as it was.",
                field="effective_from",
            )
        # A rotation whose first version starts later is changed from what that version says.
        base = version_at(rotation, at=effective_from) or rotation.versions.order_by("effective_from").first()
        if base is None:  # every rotation is created with a version
            raise ApplicationError("rotation: it has no schedule yet.", field="rotation")
        base_people = list(base.participants.select_related("user"))
        # The change holds from then on: versions scheduled after it never took effect, and would undo it.
        for superseded in rotation.versions.filter(effective_from__gt=effective_from):
            superseded.delete()
        return _add_version(
            rotation=rotation,
            effective_from=effective_from,
            zone=timezone if timezone is not None else base.timezone,
            rrule=handoff_rrule if handoff_rrule is not None else base.handoff_rrule,
            handoff_time=handoff_time if handoff_time is not None else base.handoff_time,
            start_date=start_date if start_date is not None else base.start_date,
            primary=participants
            if participants is not None
            else [p.user for p in base_people if p.layer == Layer.PRIMARY],
            secondary=secondary_participants
            if secondary_participants is not None
            else [p.user for p in base_people if p.layer == Layer.SECONDARY],
            note=note,
            actor=actor,
        )


def rotation_archive(*, rotation: Rotation, actor: User | None, now: datetime | None = None) -> Rotation:
    """Take a rotation out of service: nobody is on call for it from now, its pending swaps are cancelled and
    overrides end now. Its history stays."""
    now = now or django_timezone.now()
    with transaction.atomic():
        rotation = _lock(rotation)
        rotation.archived_at = now
        rotation.save()
        for override in rotation.overrides.filter(end__gt=now):
            if override.start >= now:
                override.delete()
            else:
                override.end = now
                override.save()
        for swap in rotation.swaps.filter(status=Swap.Status.PENDING):
            swap.status, swap.decided_by, swap.decided_at = Swap.Status.CANCELLED, actor, now
            swap.save()
    return rotation


def _lock(rotation: Rotation) -> Rotation:
    """The rotation's row, locked: every schedule change of one rotation happens one at a time."""
    locked = Rotation.objects.select_for_update().get(pk=rotation.pk)
    if locked.archived_at is not None:
        raise ApplicationError(f"rotation: {locked} is archived.", field="rotation")
    return locked


# Overrides


def _start_not_past(start: datetime, now: datetime) -> datetime:
    if _instant(start, "start") < now - OVERRIDE_START_GRACE:
        raise ApplicationError("start: cannot be in the past; who was on call stays as it was.", field="start")
    return max(start, now)


# An override covers an absence (leave, a conference): at most four of the seeds' weekly shifts. Longer is a change
# of the rotation's people, a new version. A swap's overrides are planned shifts, as long as the rotation makes them.
LONGEST_OVERRIDE = timedelta(days=28)


def _check_span(start: datetime, end: datetime, *, longest: timedelta | None) -> None:
    if _instant(end, "end") <= start:
        raise ApplicationError("end: must be after start.", field="end")
    if longest is not None and end - start > longest:
        raise ApplicationError(
            f"end: an override lasts at most {longest.days} d; for longer, change the rotation's people.", field="end"
        )


def _refuse_overlap(rotation: Rotation, layer: str, start: datetime, end: datetime, *, exclude: int | None) -> None:
    overlapping = Override.objects.filter(rotation=rotation, layer=layer, start__lt=end, end__gt=start)
    if exclude is not None:
        overlapping = overlapping.exclude(pk=exclude)
    clash = overlapping.select_related("user").first()
    if clash is not None:
        raise ApplicationError(
            f"start: overlaps the {layer} override of {clash.user} "
            f"({clash.start:%Y-%m-%d %H:%M}–{clash.end:%Y-%m-%d %H:%M} UTC).",
            field="start",
            extra={"overlaps": clash.pk},
        )


def _span_words(span: Span) -> str:
    if span.start.date() == span.end.date():
        return f"{span.start:%a %d %b %H:%M}–{span.end:%H:%M} UTC"
    return f"{span.start:%a %d %b %H:%M} – {span.end:%a %d %b %H:%M} UTC"


def _refuse_both_layers(
    rotation: Rotation, *, layer: str, person: User, start: datetime, end: datetime, field: str
) -> None:
    """Refuse `person` on `layer` for [start, end) wherever they hold the other layer, plan and overrides applied."""
    if end <= start:  # an override ended now: nothing of it is left to run
        return
    other = other_layer(layer)
    schedule = rotation_schedule(rotation, start=start, end=end)
    held = held_by(schedule.segments(layer=other), person=person, start=start, end=end)
    if held:
        raise ApplicationError(
            f"{field}: {person} is {other} during part of that time ({_span_words(held[0])}): {ONE_PERSON_ONE_LAYER}",
            field=field,
        )


def _save_override(override: Override) -> Override:
    try:
        with transaction.atomic():
            override.save()
    except IntegrityError as exc:  # PostgreSQL's exclusion constraint: a writer that bypassed the rotation lock
        raise ApplicationError("start: overlaps another override on this layer.", field="start") from exc
    return override


def override_create(
    *,
    rotation: Rotation,
    layer: str,
    user: User,
    start: datetime,
    end: datetime,
    actor: User,
    reason: str = "",
    swap: Swap | None = None,
    now: datetime | None = None,
) -> Override:
    """`user` covers `layer` for [start, end)."""
    now = now or django_timezone.now()
    if layer not in Layer.values:
        raise ApplicationError(f"layer: must be one of {', '.join(Layer.values)}.", field="layer")
    start = _start_not_past(start, now)
    _check_span(start, end, longest=None if swap else LONGEST_OVERRIDE)
    if not policy.may_be_on_call(user):
        raise ApplicationError(f"user: {user} cannot be on call (needs an active Responder account).", field="user")
    with transaction.atomic():
        rotation = _lock(rotation)
        if not policy.can_manage_overrides(actor, rotation, now=now):
            raise ForbiddenError("Only Admins and the rotation's people arrange overrides.", field="rotation")
        _refuse_overlap(rotation, layer, start, end, exclude=None)
        _refuse_both_layers(rotation, layer=layer, person=user, start=start, end=end, field="user")
        override = Override(rotation=rotation, layer=layer, user=user, start=start, end=end, reason=reason.strip(),
                            swap=swap, created_by=actor)  # fmt: skip
        return _save_override(override)


def override_update(
    *,
    override: Override,
    actor: User,
    user: User | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> Override:
    """Change an override that has not ended. Once it has started, only its end moves (and not into the past)."""
    now = now or django_timezone.now()
    with transaction.atomic():
        rotation = _lock(override.rotation)
        override = Override.objects.select_for_update().get(pk=override.pk)
        if not policy.can_manage_overrides(actor, rotation, now=now):
            raise ForbiddenError("Only Admins and the rotation's people arrange overrides.", field="rotation")
        if override.end <= now:
            raise ApplicationError("end: this override is over; history stays as it was.", field="end")
        started = override.start <= now
        longest = max(LONGEST_OVERRIDE, override.end - override.start)  # a swap's long shift may still be shortened
        if started and user is not None and user.pk != override.user_id:
            raise ApplicationError("user: the override has started; end it and add another.", field="user")
        if started and start is not None and start != override.start:
            raise ApplicationError("start: the override has started; only its end can change.", field="start")
        if user is not None:
            if not policy.may_be_on_call(user):
                raise ApplicationError(f"user: {user} cannot be on call.", field="user")
            override.user = user
        if start is not None and not started:
            override.start = _start_not_past(start, now)
        if end is not None:
            if end.utcoffset() is not None and end < now:
                raise ApplicationError("end: cannot be in the past.", field="end")
            override.end = end
        _check_span(override.start, override.end, longest=longest)
        if reason is not None:
            override.reason = reason.strip()
        _refuse_overlap(rotation, override.layer, override.start, override.end, exclude=override.pk)
        # From now on only: the part already run is history.
        _refuse_both_layers(rotation, layer=override.layer, person=override.user, start=max(override.start, now),
                            end=override.end, field="user")  # fmt: skip
        return _save_override(override)


def override_delete(*, override: Override, actor: User, now: datetime | None = None) -> None:
    """Withdraw an override that has not started (a started one is ended early instead: history stays)."""
    now = now or django_timezone.now()
    with transaction.atomic():
        rotation = _lock(override.rotation)
        override = Override.objects.select_for_update().get(pk=override.pk)
        if not policy.can_manage_overrides(actor, rotation, now=now):
            raise ForbiddenError("Only Admins and the rotation's people arrange overrides.", field="rotation")
        if override.start <= now:
            raise ApplicationError("start: the override has started; set its end to finish it early.", field="start")
        override.delete()


# Swaps


def _planned_shift(
    rotation: Rotation, *, layer: str, start: datetime, person: User, now: datetime, field: str
) -> Segment[User]:
    """The planned shift of `person` starting at `start` that they still hold whole, or an error naming `field`."""
    _instant(start, field)
    loaded = with_versions(Rotation.objects.filter(pk=rotation.pk)).get()
    shift = planned_shift_at(plans(loaded), layer=layer, at=start)
    if shift is None or shift.start != start:
        raise ApplicationError(f"{field}: no {layer} shift starts at {start:%Y-%m-%d %H:%M} UTC.", field=field)
    if shift.person != person:
        raise ApplicationError(f"{field}: that {layer} shift is {shift.person}'s, not {person}'s.", field=field)
    if shift.start <= now:
        raise ApplicationError(f"{field}: that shift has started; only future shifts are swapped.", field=field)
    # A shift traded away (or covered in part) is no longer the person's to trade; the swap's overrides would clash.
    covered = rotation_schedule(rotation, start=shift.start, end=shift.end)
    if shift not in covered.held(layer=layer):
        cover = next(segment for segment in covered.segments(layer=layer) if segment.is_override)
        raise ApplicationError(
            f"{field}: {person} no longer holds that {layer} shift: {cover.person} covers {_span_words(cover)}.",
            field=field,
        )
    return shift


def _refuse_own_backup(
    rotation: Rotation, *, layer: str, requester: User, counterparty: User, mine: Span, theirs: Span
) -> None:
    """Each party takes the other's shift: neither may then hold the other layer at the same time."""
    _refuse_both_layers(rotation, layer=layer, person=counterparty, start=mine.start, end=mine.end,
                        field="shift_start")  # fmt: skip
    _refuse_both_layers(rotation, layer=layer, person=requester, start=theirs.start, end=theirs.end,
                        field="counterparty_shift_start")  # fmt: skip


def _notify_swap(swap: Swap, *, title: str, recipient: User, actor: User | None) -> None:
    notify(
        event=EventKind.ONCALL_SWAP,
        severity=NotificationSeverity.WARNING,
        title=title,
        summary=(
            f"{swap.requester} takes {swap.counterparty_start:%a %d %b %H:%M}–{swap.counterparty_end:%a %d %b %H:%M} "
            f"UTC; {swap.counterparty} takes {swap.start:%a %d %b %H:%M}–{swap.end:%a %d %b %H:%M} UTC."
            + (f"\n{swap.note}" if swap.note else "")
        ),
        url=rotation_url(swap.rotation),
        recipients=[recipient],
        source=f"oncall-swap:{swap.pk}",
        created_by=actor,
    )


def swap_request(
    *,
    rotation: Rotation,
    requester: User,
    shift_start: datetime,
    counterparty: User,
    counterparty_shift_start: datetime,
    layer: str = Layer.PRIMARY,
    note: str = "",
    now: datetime | None = None,
) -> Swap:
    """`requester` offers their planned shift starting at `shift_start` for `counterparty`'s starting at
    `counterparty_shift_start`; the counterparty (or an Admin) accepts."""
    now = now or django_timezone.now()
    if layer not in Layer.values:
        raise ApplicationError(f"layer: must be one of {', '.join(Layer.values)}.", field="layer")
    if counterparty.pk == requester.pk:
        raise ApplicationError("counterparty: swap with someone else.", field="counterparty")
    with transaction.atomic():
        rotation = _lock(rotation)
        if not policy.can_request_swap(requester, rotation, now=now):
            raise ForbiddenError("Only people on the rotation request swaps.", field="rotation")
        mine = _planned_shift(rotation, layer=layer, start=shift_start, person=requester, now=now, field="shift_start")
        theirs = _planned_shift(rotation, layer=layer, start=counterparty_shift_start, person=counterparty, now=now,
                                field="counterparty_shift_start")  # fmt: skip
        _refuse_own_backup(rotation, layer=layer, requester=requester, counterparty=counterparty, mine=mine,
                           theirs=theirs)  # fmt: skip
        swap = Swap.objects.create(
            rotation=rotation, layer=layer, requester=requester, start=mine.start, end=mine.end,
            counterparty=counterparty, counterparty_start=theirs.start, counterparty_end=theirs.end, note=note.strip(),
        )  # fmt: skip
        _notify_swap(swap, title=f"{requester} asks to swap {rotation} shifts with you", recipient=counterparty,
                     actor=requester)  # fmt: skip
    return swap


def _lock_pending(swap: Swap) -> Swap:
    swap = lock_row(Swap.objects.select_related("rotation"), swap.pk)
    if swap.status != Swap.Status.PENDING:
        raise ConflictError(f"The swap is already {swap.get_status_display().lower()}.")
    return swap


def swap_accept(*, swap: Swap, actor: User, now: datetime | None = None) -> Swap:
    """The trade becomes two overrides, provided both shifts are still planned as they were."""
    now = now or django_timezone.now()
    with transaction.atomic():
        swap = _lock_pending(swap)
        if not policy.can_decide_swap(actor, swap):
            raise ForbiddenError(f"Only {swap.counterparty} or an Admin accepts this swap.", field="swap")
        rotation = _lock(swap.rotation)
        trades = [
            (swap.requester, swap.start, swap.end, "shift_start"),
            (swap.counterparty, swap.counterparty_start, swap.counterparty_end, "counterparty_shift_start"),
        ]
        for person, start, end, field in trades:
            shift = _planned_shift(rotation, layer=swap.layer, start=start, person=person, now=now, field=field)
            if shift.end != end:
                raise ApplicationError(f"{field}: the schedule changed since the request; ask again.", field=field)
        # Overrides made since the request may have put either party on the other layer: check again.
        _refuse_own_backup(rotation, layer=swap.layer, requester=swap.requester, counterparty=swap.counterparty,
                           mine=Span(start=swap.start, end=swap.end),
                           theirs=Span(start=swap.counterparty_start, end=swap.counterparty_end))  # fmt: skip
        for person, start, end in ((swap.counterparty, swap.start, swap.end),
                                   (swap.requester, swap.counterparty_start, swap.counterparty_end)):  # fmt: skip
            override_create(rotation=rotation, layer=swap.layer, user=person, start=start, end=end, actor=actor,
                            reason=f"Swap #{swap.pk}", swap=swap, now=now)  # fmt: skip
        swap.status, swap.decided_by, swap.decided_at = Swap.Status.ACCEPTED, actor, now
        swap.save()
        _notify_swap(swap, title=f"{swap.counterparty} accepted your {rotation} swap", recipient=swap.requester,
                     actor=actor)  # fmt: skip
    return swap


def swap_decline(*, swap: Swap, actor: User, now: datetime | None = None) -> Swap:
    now = now or django_timezone.now()
    with transaction.atomic():
        swap = _lock_pending(swap)
        if not policy.can_decide_swap(actor, swap):
            raise ForbiddenError(f"Only {swap.counterparty} or an Admin declines this swap.", field="swap")
        swap.status, swap.decided_by, swap.decided_at = Swap.Status.DECLINED, actor, now
        swap.save()
        _notify_swap(swap, title=f"{swap.counterparty} declined your {swap.rotation} swap", recipient=swap.requester,
                     actor=actor)  # fmt: skip
    return swap


def swap_cancel(*, swap: Swap, actor: User, now: datetime | None = None) -> Swap:
    now = now or django_timezone.now()
    with transaction.atomic():
        swap = _lock_pending(swap)
        if not policy.can_cancel_swap(actor, swap):
            raise ForbiddenError(f"Only {swap.requester} or an Admin cancels this swap.", field="swap")
        swap.status, swap.decided_by, swap.decided_at = Swap.Status.CANCELLED, actor, now
        swap.save()
    return swap


# Handoffs and reminders (the beat sweep)


@dataclass(frozen=True, kw_only=True)
class SweepResult:
    handoffs: int = 0
    reminders: int = 0
    lead_notices: int = 0
    auto_ticked: int = 0


def oncall_sweep(*, now: datetime | None = None) -> SweepResult:
    """Beat runs this every minute: open handoffs whose instant has come, remind incoming people 72 h and 24 h
    ahead and at the start, and tell leads about handoffs unacknowledged after an hour. Each happens once, however
    often and concurrently this runs."""
    now = now or django_timezone.now()
    handoffs = reminders = 0
    start = now - HANDOFF_LOOKBACK
    for schedule in schedules(with_versions(rotation_list()), start=start, end=now + REMINDER_HORIZON + INSTANT):
        for layer in LAYERS:
            for change in takeovers(schedule.segments(layer=layer), after=start):
                if layer == Layer.PRIMARY and change.at <= now and _handoff_open(schedule.rotation, change):
                    handoffs += 1
                if (kind := _reminder_due(change, now)) is not None and _remind(schedule.rotation, change, kind):
                    reminders += 1
    return SweepResult(
        handoffs=handoffs, reminders=reminders, lead_notices=_tell_leads(now), auto_ticked=_auto_tick(now)
    )


def _reminder_due(change: Takeover[User], now: datetime) -> ShiftReminder.Kind | None:
    """The one reminder this moment calls for: a shift first seen 10 h ahead gets the 24 h one only."""
    ahead = change.at - now
    if ahead <= timedelta(0):
        return ShiftReminder.Kind.STARTED if -ahead < START_NOTICE_GRACE else None
    if ahead <= DAY_BEFORE:
        return ShiftReminder.Kind.DAY_1
    return ShiftReminder.Kind.DAYS_3 if ahead <= REMINDER_HORIZON else None


def _local(at: datetime, rotation_zone: str) -> str:
    return f"{at.astimezone(get_zone(rotation_zone)):%a %d %b %H:%M} {rotation_zone}"


def _remind(rotation: Rotation, change: Takeover[User], kind: ShiftReminder.Kind) -> bool:
    plan = plan_at(plans(rotation), at=change.at)
    zone = plan.handoffs.zone if plan is not None else "UTC"
    layer = Layer(change.layer).label.lower()
    when, until = _local(change.at, zone), _local(change.until, zone)
    url = rotation_url(rotation)
    if kind == ShiftReminder.Kind.STARTED:
        title = f"You are now on call: {rotation} ({layer}) until {until}"
        handoff = Handoff.objects.filter(rotation=rotation, at=change.at).first()
        if handoff is not None:
            url = handoff_url(handoff)
    else:
        title = f"On call in {'24 hours' if kind == ShiftReminder.Kind.DAY_1 else '3 days'}: {rotation} ({layer})"
    try:
        with transaction.atomic():
            ShiftReminder.objects.create(
                rotation=rotation, layer=change.layer, kind=kind, shift_start=change.at, user=change.incoming
            )
            notify(
                event=EventKind.ONCALL_REMINDER,
                severity=NotificationSeverity.WARNING,
                title=title,
                summary=f"{rotation} {layer} on-call: {when} until {until}"
                + (f", taking over from {change.outgoing}." if change.outgoing else "."),
                url=url,
                recipients=[change.incoming],
                source=f"oncall:{rotation.pk}:{change.layer}:{change.at:%Y%m%dT%H%M%SZ}:{kind}",
            )
    except IntegrityError:
        return False  # sent already (by an earlier sweep or a concurrent one)
    return True


def _handoff_open(rotation: Rotation, change: Takeover[User]) -> bool:
    """The handoff record for the primary pager changing hands at `change.at`, with both checklists."""
    if Handoff.objects.filter(rotation=rotation, at=change.at).exists():
        return False
    try:
        with transaction.atomic():
            handoff = Handoff.objects.create(
                rotation=rotation, at=change.at, outgoing=change.outgoing, incoming=change.incoming
            )
            _checklist(handoff)
            if change.outgoing is not None:
                notify(
                    event=EventKind.ONCALL_HANDOFF,
                    severity=NotificationSeverity.WARNING,
                    title=f"Hand {rotation} over to {change.incoming}: your checklist",
                    summary="Tick your handoff items; the rotation's lead hears about handoffs left open an hour.",
                    url=handoff_url(handoff),
                    recipients=[change.outgoing],
                    source=f"oncall-handoff:{handoff.pk}",
                )
    except IntegrityError:
        return False  # a concurrent sweep opened it
    return True


def _checklist(handoff: Handoff) -> None:
    """The seeds' items, plus one per open incident and upcoming event, for the outgoing person to hand over (or,
    after a gap with nobody on call, for the incoming person to pick up)."""
    rotation = handoff.rotation
    briefing = HandoffItem.Side.OUTGOING if handoff.outgoing_id else HandoffItem.Side.INCOMING
    items: list[tuple[str, str, Incident | None]] = []
    if handoff.outgoing_id:
        items += [(HandoffItem.Side.OUTGOING, text, None) for text in OUTGOING_CHECKLIST]
    items += [
        (briefing, f"Hand over {incident.reference} [{incident.severity.code}] {incident.title} "
                   f"({incident.get_status_display()})", incident)
        for incident in open_incidents_for(rotation)
    ]  # fmt: skip
    items += [
        (briefing, f"In force: {event.title} until {event.until:%a %d %b %H:%M} UTC", None)
        if event.until is not None
        else (briefing, f"Upcoming: {event.title} at {event.start:%a %d %b %H:%M} UTC", None)
        for event in upcoming_events(rotation=rotation, start=handoff.at, end=handoff.at + UPCOMING_EVENTS_AHEAD)
    ]
    items += [(HandoffItem.Side.INCOMING, text, None) for text in INCOMING_CHECKLIST]
    positions: dict[str, int] = {}
    for side, text, incident in items:
        positions[side] = positions.get(side, -1) + 1
        HandoffItem.objects.create(handoff=handoff, side=side, position=positions[side], text=text[:300],
                                   incident=incident, automation=AUTOMATED_ITEMS.get(text, ""))  # fmt: skip


def _tell_leads(now: datetime) -> int:
    """Tell each lead, once, about handoffs not acknowledged within the hour."""
    due = Handoff.objects.filter(
        acknowledged_at__isnull=True,
        lead_notified_at__isnull=True,
        rotation__lead__isnull=False,
        at__lte=now - HANDOFF_ACK_WITHIN,
        at__gt=now - LEAD_NOTICE_LOOKBACK,
    )
    sent = 0
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            handoff = lock_row(Handoff.objects.select_related("rotation__lead", "outgoing", "incoming"), pk)
            lead = handoff.rotation.lead
            if handoff.acknowledged_at is not None or handoff.lead_notified_at is not None or lead is None:
                continue  # acknowledged or told meanwhile
            pending = handoff.items.filter(done_at__isnull=True).count()
            notify(
                event=EventKind.ONCALL_HANDOFF,
                severity=NotificationSeverity.WARNING,
                title=f"{handoff.rotation} handoff not acknowledged after an hour",
                summary=f"{handoff.outgoing or 'nobody'} → {handoff.incoming}: {pending} checklist items open since "
                f"{handoff.at:%a %d %b %H:%M} UTC.",
                url=handoff_url(handoff),
                recipients=[lead],
                source=f"oncall-handoff:{handoff.pk}:lead",
            )
            handoff.lead_notified_at = now
            handoff.save()
            sent += 1
    return sent


def handoff_item_set(*, item: HandoffItem, actor: User, done: bool, now: datetime | None = None) -> HandoffItem:
    """Tick (or untick) one's own checklist item; the last tick acknowledges the handoff."""
    now = now or django_timezone.now()
    with transaction.atomic():
        handoff = Handoff.objects.select_for_update().get(pk=item.handoff_id)
        item = HandoffItem.objects.select_for_update().get(pk=item.pk)
        item.handoff = handoff
        if not policy.can_tick(actor, item):
            owner = handoff.outgoing if item.side == HandoffItem.Side.OUTGOING else handoff.incoming
            raise ForbiddenError(f"item: only {owner or 'nobody'} ticks the {item.get_side_display()} items.",
                                 field="item")  # fmt: skip
        if handoff.acknowledged_at is not None:
            raise ConflictError("The handoff is acknowledged; its checklist is closed.")
        item.done_at, item.done_by = (now, actor) if done else (None, None)
        item.save()
        if done and not handoff.items.filter(done_at__isnull=True).exists():
            handoff.acknowledged_at = now
            handoff.save()
    return item


def handoff_test_page(*, item: HandoffItem, actor: User, now: datetime | None = None) -> HandoffItem:
    """Send a real test page through the incoming person's own channels (pager, email, SMS); the sweep ticks the
    item once it is delivered over the channel the item names (TEST_PAGE_EVIDENCE)."""
    now = now or django_timezone.now()
    with transaction.atomic():
        handoff = Handoff.objects.select_for_update().get(pk=item.handoff_id)
        item = HandoffItem.objects.select_for_update().get(pk=item.pk)
        item.handoff = handoff
        if item.automation != HandoffItem.Automation.TEST_PAGE:
            raise ApplicationError("item: only the test-notifications item sends a test page.", field="item")
        if not policy.can_tick(actor, item):
            raise ForbiddenError(f"item: only {handoff.incoming or 'nobody'} sends their test page.", field="item")
        if handoff.acknowledged_at is not None or item.done_at is not None:
            raise ConflictError("The item is ticked already; no test page is needed.")
        item.test_page = notify(
            event=EventKind.TEST,
            severity=NotificationSeverity.CRITICAL,
            title=f"Test page for {handoff.incoming}: {handoff.rotation} handoff (no action needed)",
            summary="Sent from the handoff checklist to check your pager, email and phone reach you.",
            url=handoff_url(handoff),
            recipients=[handoff.incoming] if handoff.incoming else [],
            source=f"oncall-handoff:{handoff.pk}:test:{now:%Y%m%dT%H%M%S}",
            created_by=actor,
            channel_kinds=TEST_PAGE_CHANNELS,
            now=now,
        )
        item.save()
    return item


def _auto_tick(now: datetime) -> int:
    """Tick open automated items whose evidence is in: the test page delivered over the channel the item names, or
    an incident acknowledged by the incoming person since the handoff."""
    ticked = 0
    items = HandoffItem.objects.filter(
        done_at__isnull=True, handoff__acknowledged_at__isnull=True, handoff__incoming__isnull=False
    ).exclude(automation=HandoffItem.Automation.NONE)
    for item in items.select_related("handoff"):
        handoff = item.handoff
        if item.automation == HandoffItem.Automation.TEST_PAGE:
            kind = TEST_PAGE_EVIDENCE.get(item.text)
            if item.test_page_id is None or kind is None:
                continue
            seen = Delivery.objects.filter(
                notification_id=item.test_page_id, channel__kind=kind, status=Delivery.Status.DELIVERED
            ).exists()
        else:
            seen = TimelineEvent.objects.filter(
                kind=TimelineEvent.Kind.ACKNOWLEDGED, actor_id=handoff.incoming_id, at__gte=handoff.at
            ).exists()
        if seen and _tick_seen(item.pk, now=now):
            ticked += 1
    return ticked


def _tick_seen(item_id: int, *, now: datetime) -> bool:
    with transaction.atomic():
        item = HandoffItem.objects.select_for_update().get(pk=item_id)
        handoff = Handoff.objects.select_for_update().get(pk=item.handoff_id)
        if item.done_at is not None or handoff.acknowledged_at is not None:
            return False
        # Done by the incoming person: the test page reached them, or they took a page.
        item.done_at, item.done_by = now, handoff.incoming
        item.save()
        if not handoff.items.filter(done_at__isnull=True).exists():
            handoff.acknowledged_at = now
            handoff.save()
    return True


# Calendar feeds


@dataclass(frozen=True)
class IssuedFeed:
    """A feed and its URL token: shown once, only its hash is stored."""

    feed: CalendarFeed
    token: str


def calendar_feed_issue(*, owner: User, rotation: Rotation | None = None, now: datetime | None = None) -> IssuedFeed:
    """A secret feed URL for `owner`: a rotation's shifts, or their own. Issuing again regenerates it, and the
    previous URL stops working."""
    now = now or django_timezone.now()
    token = secrets.token_urlsafe(32)
    digest = token_hash(token)
    with transaction.atomic():
        feed = CalendarFeed.objects.select_for_update(of=("self",)).filter(owner=owner, rotation=rotation).first()
        if feed is None:
            feed = CalendarFeed.objects.create(owner=owner, rotation=rotation, token_hash=digest)
        else:
            feed.token_hash, feed.regenerated_at = digest, now
            feed.save()
    return IssuedFeed(feed=feed, token=token)


def calendar_feed_revoke(*, feed: CalendarFeed, actor: User) -> None:
    if not policy.can_revoke_feed(actor, feed):
        raise ForbiddenError("Only the feed's owner or an Admin revokes it.", field="feed")
    feed.delete()


def calendar_feed_touch(*, feed: CalendarFeed, now: datetime | None = None) -> None:
    """Record that a calendar fetched the feed (not audited: it is not a change anyone made)."""
    feed.last_used_at = now or django_timezone.now()
    feed.save(update_fields=["last_used_at"])
