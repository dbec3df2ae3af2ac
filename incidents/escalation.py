"""Escalation: the policy in force is snapshotted onto the incident when it opens; each level becomes a deadline row
(`EscalationStep`) that beat's sweep pages exactly once, through the notifications service.

A step is claimed by a conditional UPDATE (paged_at IS NULL -> now) inside the transaction that sends the page, so
two sweeps running at once page a level once, and a failure to record the page leaves the step for the next sweep.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from incidents.models import (
    EscalationLevel,
    EscalationPolicy,
    EscalationStep,
    Incident,
    Service,
    Severity,
    TimelineEvent,
)
from incidents.selectors import owner_team
from portal.accounts.models import User
from portal.errors import ApplicationError
from portal.memo import memo
from portal.notifications.models import EventKind
from portal.notifications.models import Severity as NotificationSeverity
from portal.notifications.services import notify

Target = EscalationLevel.Target


@memo  # a storm's incidents on the same services: one read for the payload
def policy_for(services: tuple[Service, ...]) -> EscalationPolicy | None:
    """The first affected service's policy, else the default one."""
    named = None
    if services:
        named = EscalationPolicy.objects.filter(services__in=services).order_by("services__tier").first()
    return named or EscalationPolicy.objects.filter(is_default=True).first()


@memo  # a storm's incidents share their policy's levels: one read for the payload
def snapshot(policy: EscalationPolicy | None) -> dict[str, object]:
    if policy is None:
        return {}
    return {
        "policy": policy.name,
        "levels": [
            {
                "level": level.level,
                "name": level.name,
                "target": level.target,
                "users": sorted(user.pk for user in level.users.all()),  # prefetched
                "group": level.group.name if level.group else None,
                "immediate_max_rank": level.immediate_max_rank,
                "after_minutes": level.after_minutes,
                "manual_only": level.manual_only,
            }
            for level in policy.levels.prefetch_related("users").select_related("group")
        ],
    }


def level_due(level: dict[str, Any], *, severity: Severity, detected_at: datetime) -> datetime | None:
    """When a snapshotted level is paged: at once for severe enough incidents, else after its delay (counted on the
    severity's own clock: P3/P4 have a slower one), else by hand."""
    if level["manual_only"]:
        return None
    dues = []
    if level["immediate_max_rank"] is not None and severity.rank <= level["immediate_max_rank"]:
        dues.append(detected_at)
    if level["after_minutes"] is not None:
        dues.append(detected_at + timedelta(minutes=level["after_minutes"] * severity.escalation_factor))
    return min(dues, default=None)


def escalation_start(*, incident: Incident, services: Sequence[Service]) -> None:
    """Snapshot the policy of the incident's `services` onto it and write the deadline rows. Called inside the
    transaction that opens the incident, which saves the snapshot with the incident's timers."""
    incident.escalation_snapshot = snapshot(policy_for(tuple(services)))
    steps = [
        EscalationStep(
            incident=incident,
            kind=EscalationStep.Kind.LEVEL,
            level=level["level"],
            due_at=level_due(level, severity=incident.severity, detected_at=incident.detected_at),
        )
        for level in incident.escalation_snapshot.get("levels", [])
    ]
    if incident.ack_due_at is not None:
        steps.append(
            EscalationStep(incident=incident, kind=EscalationStep.Kind.SECONDARY, level=1, due_at=incident.ack_due_at)
        )
    EscalationStep.objects.bulk_create(steps)


def escalation_retime(*, incident: Incident, now: datetime) -> None:
    """After a severity change: levels the new severity qualifies for fall due now (never later than before)."""
    for step in incident.escalation_steps.filter(kind=EscalationStep.Kind.LEVEL, paged_at__isnull=True):
        level = _level(incident, step.level)
        due = level_due(level, severity=incident.severity, detected_at=incident.detected_at) if level else None
        if due is not None and (step.due_at is None or due < step.due_at):
            step.due_at = max(due, min(now, step.due_at or now))
            step.save(update_fields=["due_at"])


def escalation_acknowledged(*, incident: Incident, now: datetime) -> None:
    """Acknowledging stops the page to the secondary; the time-based levels run until the incident is resolved."""
    incident.escalation_steps.filter(kind=EscalationStep.Kind.SECONDARY, paged_at__isnull=True).update(cancelled_at=now)


def _level(incident: Incident, number: int) -> dict[str, Any] | None:
    return next((lvl for lvl in incident.escalation_snapshot.get("levels", []) if lvl["level"] == number), None)


def recipients(incident: Incident, step: EscalationStep, *, now: datetime) -> tuple[str, list[User]]:
    """Who the step pages, from the snapshot (never the live policy)."""
    if step.kind == EscalationStep.Kind.SECONDARY:
        return "Secondary on-call", _oncall(incident, "secondary", now)
    level = _level(incident, step.level) or {}
    name = f"L{step.level} {level.get('name', '')}".strip()
    target = level.get("target")
    if target in {Target.ONCALL_PRIMARY, Target.ONCALL_SECONDARY}:
        return name, _oncall(incident, "primary" if target == Target.ONCALL_PRIMARY else "secondary", now)
    if target == Target.USERS:
        return name, list(User.objects.filter(pk__in=level.get("users", []), is_active=True))
    if target == Target.GROUP and level.get("group"):
        group = Group.objects.filter(name=level["group"]).first()
        return name, list(group.user_set.filter(is_active=True)) if group else []
    return name, []


def _oncall(incident: Incident, layer: str, now: datetime) -> list[User]:
    """Who holds `layer` now on the rotations covering the incident's services (the first rotation that has someone)."""
    from oncall.selectors import incident_rotation, oncall_at

    rotation = incident_rotation(incident)
    person = oncall_at(rotation, at=now, layer=layer) if rotation is not None else None
    return [person] if person is not None else []


def _page(incident: Incident, step: EscalationStep, *, now: datetime, actor: User | None, reason: str) -> None:
    """Write the page on the timeline and hand it to the notifications service (the caller claimed the step)."""
    from incidents.services import incident_url, timeline_add

    name, people = recipients(incident, step, now=now)
    who = ", ".join(str(person) for person in people) or "nobody resolvable (chat and pager channels only)"
    timeline_add(
        incident=incident,
        kind=TimelineEvent.Kind.ESCALATION,
        message=f"Paged {name}: {who}" + (f" ({reason})" if reason else ""),
        actor=actor,
        at=now,
        data={"kind": step.kind, "level": step.level, "users": [person.pk for person in people]},
    )
    notify(
        event=EventKind.INCIDENT_ESCALATED,
        severity=NotificationSeverity(incident.severity.notification_severity),
        title=f"{incident.reference} [{incident.severity.code}] escalated to {name}: {incident.title}",
        summary=reason or f"{incident.get_status_display()} since {incident.detected_at:%H:%M} UTC.",
        url=incident_url(incident),
        services=incident.services.all(),
        recipients=people,
        source=f"incident:{incident.pk}",
        created_by=actor,
        team=owner_team(incident),
    )


def escalation_sweep(*, now: datetime | None = None) -> int:
    """Page every due step of an open incident, once. Safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    due = (
        EscalationStep.objects.filter(paged_at__isnull=True, cancelled_at__isnull=True, due_at__lte=now)
        .exclude(incident__status__in=[Incident.Status.RESOLVED, Incident.Status.REVIEW, Incident.Status.CLOSED])
        .values_list("pk", flat=True)
    )
    paged = 0
    for step_id in list(due):
        with transaction.atomic():
            if not EscalationStep.objects.filter(pk=step_id, paged_at__isnull=True).update(paged_at=now):
                continue  # another sweep claimed it
            step = EscalationStep.objects.select_related("incident__severity").get(pk=step_id)
            _page(step.incident, step, now=now, actor=None, reason="")
            paged += 1
    return paged


def incident_escalate(*, incident: Incident, actor: User, reason: str, now: datetime | None = None) -> EscalationStep:
    """A commander pages the next level not yet paged, now (level 4, business impact, only this way)."""
    now = now or timezone.now()
    if not reason.strip():
        raise ApplicationError("Say why you escalate.", field="reason")
    if not incident.is_open:
        raise ApplicationError(f"{incident.reference} is {incident.get_status_display()}.", field="incident")
    with transaction.atomic():
        pending = (
            incident.escalation_steps.select_for_update()
            .filter(kind=EscalationStep.Kind.LEVEL, paged_at__isnull=True)
            .filter(Q(cancelled_at__isnull=True))
            .order_by("level")
            .first()
        )
        if pending is None:
            raise ApplicationError(f"Every escalation level of {incident.reference} has been paged.", field="reason")
        pending.paged_at, pending.reason = now, reason.strip()[:300]
        pending.save(update_fields=["paged_at", "reason"])
        _page(incident, pending, now=now, actor=actor, reason=reason.strip())
    return pending
