"""Every change to an incident goes through here: validated, locked, versioned, on the timeline, notified."""

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from contacts.models import Team
from incidents import escalation, policy
from incidents.models import (
    ActionItem,
    Incident,
    PostIncidentReview,
    Service,
    Severity,
    StatusUpdate,
    TimelineEvent,
    TimerReminder,
)
from incidents.selectors import OWNER_CACHE, owner_team
from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.core.audit import sealed_together
from portal.errors import ApplicationError, ConflictError
from portal.locking import lock_row
from portal.notifications.models import EventKind, PagerAction
from portal.notifications.models import Severity as NotificationSeverity
from portal.notifications.services import notify

Status = Incident.Status


def incident_url(incident: Incident) -> str:
    return settings.PORTAL_BASE_URL + reverse("incident-detail", args=[incident.pk])


def timeline_add(
    *, incident: Incident, kind: str, message: str, actor: User | None, at: datetime, data: dict[str, Any] | None = None
) -> TimelineEvent:
    return TimelineEvent.objects.create(
        incident=incident, kind=kind, message=message, actor=actor, at=at, data=data or {}
    )


def timeline_add_many(*, events: list[TimelineEvent]) -> list[TimelineEvent]:
    """Unsaved events in one INSERT: alert intake records hundreds per payload (the timeline is not audited)."""
    return TimelineEvent.objects.bulk_create(events)


def _lock(incident: Incident, version: int | None) -> Incident:
    """The incident's row, locked for this transaction, after checking the caller saw its latest version."""
    locked = lock_row(Incident.objects.select_related("severity"), incident.pk)
    if version is not None and version != locked.version:
        raise ConflictError(
            f"{locked.reference} changed since you loaded it{_latest_change(locked)} (version {locked.version}, "
            f"you had {version}). Reload the latest and try again if it still applies.",
            extra={"current_version": locked.version},
        )
    return locked


def _latest_change(incident: Incident) -> str:
    """The newest timeline line, so a refused person reads what changed ("cora, 12:03 UTC: P2 → P3: ...")."""
    event = incident.timeline.select_related("actor").order_by("-at", "-pk").first()
    if event is None:
        return ""
    return f": {event.actor or 'the system'}, {event.at:%H:%M} UTC, {event.get_kind_display().lower()}: {event.message}"


def _save(incident: Incident) -> Incident:
    """Recompute the timers, bump the version and save."""
    due = policy.timers(incident)
    incident.ack_due_at, incident.update_due_at, incident.resolution_due_at = (
        due.ack_due_at,
        due.update_due_at,
        due.resolution_due_at,
    )
    incident.version += 1
    incident.save()
    return incident


def _notify(
    incident: Incident,
    *,
    event: EventKind,
    title: str,
    summary: str,
    actor: User | None,
    services: Iterable[Service] | None = None,
    **extra: Any,
) -> None:
    notify(
        event=event,
        severity=NotificationSeverity(incident.severity.notification_severity),
        title=f"{incident.reference} [{incident.severity.code}] {title}",
        summary=summary,
        url=incident_url(incident),
        services=incident.services.all() if services is None else services,
        recipients=[user for user in (incident.commander,) if user is not None],
        source=f"incident:{incident.pk}",
        created_by=actor,
        team=owner_team(incident),
        **extra,
    )


def incident_declare(
    *,
    title: str,
    severity: Severity,
    reporter: User | None,
    services: Iterable[Service] = (),
    impact_summary: str = "",
    commander: User | None = None,
    is_public: bool = False,
    flags: Iterable[str] = (),
    detected_at: datetime | None = None,
    owner: Team | None = None,
    now: datetime | None = None,
) -> Incident:
    """`owner`: the catalogue's owner team of the alerts declaring it, which hears of it (see `notify`)."""
    now = now or timezone.now()
    detected_at = detected_at or now
    if detected_at > now:
        raise ApplicationError("Detection time cannot be in the future.", field="detected_at")
    if not title.strip():
        raise ApplicationError("Give the incident a title.", field="title")
    flags = _valid_flags(flags)
    if flags and severity.rank > 1:
        severity = Severity.objects.get(rank=1)  # the seeds: these escalate to P1 immediately
    services = list(services)
    # No savepoint: a failure here fails the caller's transaction anyway (alert intake declares many in one).
    with sealed_together(savepoint=False):
        incident = Incident(
            title=title.strip(),
            severity=severity,
            reporter=reporter,
            commander=commander,
            impact_summary=impact_summary,
            is_public=is_public,
            flags=flags,
            detected_at=detected_at,
        )
        _save(incident)
        # Its alerts are written after it: what `owner_team` would read of them is known already.
        setattr(incident, OWNER_CACHE, owner)
        if services:
            incident.services.add(*services)
        # The acknowledge target depends on the services' rotation (its business hours), known once they are set.
        due = policy.timers(incident)
        incident.ack_due_at, incident.update_due_at, incident.resolution_due_at = (
            due.ack_due_at,
            due.update_due_at,
            due.resolution_due_at,
        )
        escalation.escalation_start(incident=incident, services=services)
        # Timers and the snapshot are left out of the audit log, so update() loses nothing and skips save()'s diff.
        Incident.objects.filter(pk=incident.pk).update(
            ack_due_at=incident.ack_due_at,
            update_due_at=incident.update_due_at,
            resolution_due_at=incident.resolution_due_at,
            escalation_snapshot=incident.escalation_snapshot,
        )
        names = ", ".join(service.name for service in services) or "no service named yet"
        timeline_add(
            incident=incident,
            kind=TimelineEvent.Kind.DECLARED,
            message=f"Declared {severity.code} affecting {names}" + (f"; flags: {', '.join(flags)}" if flags else ""),
            actor=reporter,
            at=now,
        )
        _notify(
            incident,
            event=EventKind.INCIDENT_OPENED,
            title=incident.title,
            summary=impact_summary,
            actor=reporter,
            services=services,
        )
        for flag in flags:
            _notify_security_flag(incident, flag, actor=reporter)
    return incident


def _notify_security_flag(incident: Incident, flag: str, *, actor: User | None) -> None:
    """The seeds' #security-incidents channel hears of suspected breaches and active attacks."""
    if flag in policy.SECURITY_FLAGS:
        _notify(incident, event=EventKind.INCIDENT_SECURITY_FLAG, title=f"flagged: {Incident.Flag(flag).label}",
                summary=incident.title, actor=actor)  # fmt: skip


def _valid_flags(flags: Iterable[str]) -> list[str]:
    flags = list(dict.fromkeys(flags))
    if unknown := [flag for flag in flags if flag not in Incident.Flag.values]:
        raise ApplicationError(f"Unknown escalation flag(s): {', '.join(unknown)}.", field="flags")
    return flags


def incident_acknowledge(
    *, incident: Incident, actor: User | None, version: int | None = None, via: str = "", now: datetime | None = None
) -> Incident:
    """`via` says where it was acknowledged when not in the portal, e.g. "in PagerDuty by Jane" (whose portal
    account, `actor`, may be unknown)."""
    now = now or timezone.now()
    with transaction.atomic():
        incident = _lock(incident, version)
        if incident.acknowledged_at is not None:
            raise ConflictError(f"{incident.reference} was already acknowledged.")
        incident.acknowledged_at = now
        if incident.commander is None:
            incident.commander = actor
        _save(incident)
        escalation.escalation_acknowledged(incident=incident, now=now)
        message = f"Acknowledged {via}" if via else "Acknowledged"
        timeline_add(incident=incident, kind=TimelineEvent.Kind.ACKNOWLEDGED, message=message, actor=actor, at=now)
        _notify(incident, event=EventKind.INCIDENT_UPDATED, title=f"acknowledged {via or f'by {actor}'}", summary="",
                actor=actor, pager_action=PagerAction.ACKNOWLEDGE)  # fmt: skip
    return incident


def incident_resolved_elsewhere(
    *, incident: Incident, actor: User | None, via: str, now: datetime | None = None
) -> Incident:
    """The pager says it is resolved: an open incident moves to monitoring (the commander confirms the resolution
    in the portal), whatever phase it was in; one already monitoring or resolved only gets the note."""
    now = now or timezone.now()
    with transaction.atomic():
        incident = _lock(incident, None)
        previous = incident.status
        message = f"Resolved {via}"
        if incident.is_open and previous != Status.MONITORING:
            incident.status = Status.MONITORING
            incident.acknowledged_at = incident.acknowledged_at or now
            incident.mitigated_at = incident.mitigated_at or now
            _save(incident)
            escalation.escalation_acknowledged(incident=incident, now=now)
            message += f"; {Status(previous).label} → {Status.MONITORING.label}, resolve here once confirmed"
        timeline_add(incident=incident, kind=TimelineEvent.Kind.TRANSITION, message=message, actor=actor, at=now,
                     data={"from": previous, "to": incident.status, "via": via})  # fmt: skip
    return incident


def incident_transition(
    *,
    incident: Incident,
    to_status: str,
    actor: User,
    note: str = "",
    version: int | None = None,
    confirm: bool = False,
    final_update: str = "",
    now: datetime | None = None,
) -> Incident:
    """Move the incident along its lifecycle. Resolving a P1/P2 that was never monitored, or less than
    MONITOR_BEFORE_RESOLVING after its mitigation, needs `confirm` (the seeds: monitor for 1-2 hours first).
    Resolving a public incident needs `final_update`, posted as its public Resolved update, unless the newest public
    update is already Resolved."""
    now = now or timezone.now()
    with transaction.atomic():
        incident = _lock(incident, version)
        allowed = policy.allowed_transitions(incident)
        if to_status not in allowed:
            names = ", ".join(Status(status).label for status in allowed) or "none (the incident is closed)"
            reason = ""
            if to_status == Status.CLOSED and Status.CLOSED in policy.ALLOWED_TRANSITIONS[incident.status]:
                reason = f" {incident.severity.code} incidents close only once their review is published."
            target = Status(to_status).label if to_status in Status.values else repr(to_status)
            raise ApplicationError(
                f"{incident.reference} cannot go from {incident.get_status_display()} to {target}.{reason} "
                f"Allowed next: {names}.",
                field="to_status",
                extra={"allowed": list(allowed)},
            )
        if to_status == Status.RESOLVED and not confirm and (why := policy.resolving_unmonitored(incident, now=now)):
            raise ConflictError(
                f"{incident.reference} {why}: monitor a {incident.severity.code} for 1-2 hours before resolving it, "
                "or confirm to resolve it anyway.",
                field="confirm",
                extra={"mitigated_at": incident.mitigated_at.isoformat() if incident.mitigated_at else None},
            )
        if to_status == Status.RESOLVED and not final_update.strip() and needs_final_update(incident):
            raise ApplicationError(
                f"{incident.reference} is public: write the final public update (Resolved) for the status page and "
                "its subscribers.",
                field="final_update",
                extra={"draft": policy.update_draft(incident, StatusUpdate.Label.RESOLVED)},
            )
        if to_status == Status.RESOLVED and final_update.strip():
            _post_update(incident, label=StatusUpdate.Label.RESOLVED, description=final_update, impact="",
                         next_update_minutes=None, is_public=incident.is_public, actor=actor, now=now,
                         field="final_update")  # fmt: skip
        previous = incident.status
        reopened = previous == Status.RESOLVED and to_status == Status.INVESTIGATING
        incident.status = to_status
        acknowledging = incident.acknowledged_at is None and to_status != Status.RESOLVED
        if acknowledging:
            incident.acknowledged_at = now
            incident.commander = incident.commander or actor
        if to_status == Status.MONITORING:
            incident.mitigated_at = now
        elif to_status in (Status.INVESTIGATING, Status.IDENTIFIED, Status.MITIGATING):
            # Back before monitoring (or re-opened): the mitigation did not hold, and the hour of monitoring the
            # seeds ask for before resolving starts again with the next one.
            incident.mitigated_at = None
        if to_status == Status.RESOLVED:
            incident.resolved_at = now
        if reopened:
            incident.resolved_at = None
        if to_status == Status.CLOSED:
            incident.closed_at = now
        _save(incident)
        if acknowledging:
            escalation.escalation_acknowledged(incident=incident, now=now)
        verb = "Re-opened" if reopened else f"{Status(previous).label} → {Status(to_status).label}"
        timeline_add(
            incident=incident, kind=TimelineEvent.Kind.TRANSITION, message=verb + (f": {note}" if note else ""),
            actor=actor, at=now, data={"from": previous, "to": to_status},
        )  # fmt: skip
        if to_status in (Status.RESOLVED, Status.REVIEW):
            _review_open(incident, now=now)
        if to_status == Status.RESOLVED:
            _notify(incident, event=EventKind.INCIDENT_RESOLVED, title="resolved", summary=note, actor=actor,
                    pager_action=PagerAction.RESOLVE)  # fmt: skip
        elif reopened:
            _notify(
                incident,
                event=EventKind.INCIDENT_OPENED,
                title=f"re-opened: {incident.title}",
                summary=note,
                actor=actor,
            )
    return incident


def incident_change_severity(
    *, incident: Incident, severity: Severity, actor: User | None, reason: str, version: int | None = None,
    now: datetime | None = None,
) -> Incident:  # fmt: skip
    now = now or timezone.now()
    if not reason.strip():
        raise ApplicationError("Say why the severity changes.", field="reason")
    with transaction.atomic():
        incident = _lock(incident, version)
        if not incident.is_open:
            raise ApplicationError(
                f"{incident.reference} is {incident.get_status_display()}; re-open it first.", field="severity"
            )
        if severity.pk == incident.severity_id:
            raise ConflictError(f"{incident.reference} is already {severity.code}.", field="severity")
        previous = incident.severity
        incident.severity = severity
        _save(incident)
        escalation.escalation_retime(incident=incident, now=now)
        timeline_add(
            incident=incident, kind=TimelineEvent.Kind.SEVERITY, message=f"{previous.code} → {severity.code}: {reason}",
            actor=actor, at=now, data={"from": previous.code, "to": severity.code},
        )  # fmt: skip
        if severity.rank < previous.rank:
            _notify(incident, event=EventKind.INCIDENT_UPDATED, title=f"raised to {severity.code}: {incident.title}",
                    summary=reason, actor=actor)  # fmt: skip
        _notify(incident, event=EventKind.INCIDENT_SEVERITY_CHANGED,
                title=f"{previous.code} → {severity.code}: {incident.title}", summary=reason, actor=actor)  # fmt: skip
    return incident


def incident_assign(
    *, incident: Incident, commander: User, actor: User, version: int | None = None, now: datetime | None = None
) -> Incident:
    return incident_assign_role(
        incident=incident, role=Incident.Role.COMMANDER, user=commander, actor=actor, version=version, now=now
    )


def incident_assign_role(
    *,
    incident: Incident,
    role: str,
    user: User | None,
    actor: User,
    version: int | None = None,
    now: datetime | None = None,
) -> Incident:
    """Give an incident role to a Responder. The roles beside the commander may be left empty (`user` None); an
    incident keeps its commander until another takes over."""
    now = now or timezone.now()
    if role not in Incident.Role.values:
        raise ApplicationError(f"Role must be one of {', '.join(Incident.Role.values)}.", field="role")
    label = Incident.Role(role).label
    is_commander = role == Incident.Role.COMMANDER
    if user is None and is_commander:
        raise ApplicationError("Name the new commander.", field="commander")
    if user is not None and not has_role(user, Role.RESPONDER):
        if is_commander:
            raise ApplicationError(f"{user} is not a Responder and cannot command an incident.", field="commander")
        raise ApplicationError(f"{user} is not a Responder and cannot be {label.lower()}.", field="user")
    with transaction.atomic():
        incident = _lock(incident, version)
        if getattr(incident, f"{role}_id") == (user.pk if user else None):
            if is_commander:
                raise ConflictError(f"{user} already commands {incident.reference}.", field="commander")
            who = f"{user} is already" if user else "Nobody is"
            raise ConflictError(f"{who} {label.lower()} of {incident.reference}.", field="user")
        setattr(incident, role, user)
        _save(incident)
        message = f"Commander: {user}" if is_commander else f"{label}: {user or 'nobody'}"
        data = {"commander": user.pk} if is_commander and user else {"role": role, "user": user.pk if user else None}
        timeline_add(incident=incident, kind=TimelineEvent.Kind.ASSIGNMENT, message=message, actor=actor, at=now,
                     data=data)  # fmt: skip
    return incident


def incident_flag(*, incident: Incident, flag: str, actor: User | None, now: datetime | None = None) -> Incident:
    """Record an immediate-escalation reason and raise the incident to P1 if it is not there already."""
    now = now or timezone.now()
    _valid_flags([flag])
    with transaction.atomic():
        incident = _lock(incident, None)
        if flag in incident.flags:
            raise ConflictError(f"{incident.reference} is already flagged {Incident.Flag(flag).label}.")
        incident.flags = [*incident.flags, flag]
        _save(incident)
        timeline_add(incident=incident, kind=TimelineEvent.Kind.FLAG, message=f"Flagged: {Incident.Flag(flag).label}",
                     actor=actor, at=now, data={"flag": flag})  # fmt: skip
        _notify_security_flag(incident, flag, actor=actor)
    p1 = Severity.objects.get(rank=1)
    if incident.severity_id != p1.pk and incident.is_open:
        incident = incident_change_severity(
            incident=incident, severity=p1, actor=actor, reason=f"immediate escalation: {Incident.Flag(flag).label}",
            now=now,
        )  # fmt: skip
    return incident


def incident_post_update(
    *,
    incident: Incident,
    label: str,
    description: str,
    actor: User,
    impact: str = "",
    next_update_minutes: int | None = None,
    is_public: bool | None = None,
    now: datetime | None = None,
) -> StatusUpdate:
    """Post a status update in the seeds' template; it resets the update timer and, if public, tells subscribers.
    `is_public` None: `policy.update_public_by_default` (internal for Responders)."""
    now = now or timezone.now()
    if label not in StatusUpdate.Label.values:
        raise ApplicationError(f"Status must be one of {', '.join(StatusUpdate.Label.values)}.", field="label")
    if next_update_minutes is not None and not 1 <= next_update_minutes <= 7 * 24 * 60:
        raise ApplicationError("Next update must be between 1 minute and 1 week away.", field="next_update_minutes")
    with transaction.atomic():
        incident = _lock(incident, None)
        if incident.status == Status.CLOSED:
            raise ApplicationError(f"{incident.reference} is closed.", field="incident")
        every = incident.severity.update_minutes
        if next_update_minutes is not None and every is not None and next_update_minutes > every:
            raise ApplicationError(
                f"Next update: a {incident.severity.code} is updated at least every {every} minutes; promise {every} "
                "or fewer.",
                field="next_update_minutes",
            )
        if is_public is None:
            is_public = policy.update_public_by_default(incident, actor)
        update = _post_update(incident, label=label, description=description, impact=impact, actor=actor, now=now,
                              next_update_minutes=next_update_minutes, is_public=is_public)  # fmt: skip
        _save(incident)
    return update


def _post_update(
    incident: Incident,
    *,
    label: str,
    description: str,
    impact: str,
    next_update_minutes: int | None,
    is_public: bool,
    actor: User,
    now: datetime,
    field: str = "description",
) -> StatusUpdate:
    """Record the update on the locked incident (the caller saves it); `field` names the text in errors."""
    if not description.strip():
        raise ApplicationError("Describe what is happening.", field=field)
    if is_public and not incident.is_public:
        raise ApplicationError(
            f"{incident.reference} is internal: make the incident public before posting a public update.",
            field="is_public",
        )
    update = status_update_preview(incident=incident, label=label, description=description, impact=impact,
                                   next_update_minutes=next_update_minutes)  # fmt: skip
    update.is_public, update.author, update.posted_at = is_public, actor, now
    update.save()
    incident.last_update_at = now
    incident.promised_update_minutes = next_update_minutes
    visibility = "public" if is_public else "internal"
    timeline_add(incident=incident, kind=TimelineEvent.Kind.STATUS_UPDATE,
                 message=f"{update.get_label_display()} ({visibility}): {update.description}", actor=actor, at=now,
                 data={"status_update": update.pk, "is_public": is_public})  # fmt: skip
    title, summary = f"{update.get_label_display()}: {incident.title}", status_update_text(update)
    if is_public:
        _notify(incident, event=EventKind.INCIDENT_UPDATED, title=title, summary=summary, actor=actor,
                public_title=title)  # fmt: skip
    # Responders' channels (#incidents) follow every update, public or internal.
    _notify(incident, event=EventKind.INCIDENT_STATUS_UPDATE, title=title, summary=summary, actor=actor)
    return update


def status_update_preview(
    *, incident: Incident, label: str, description: str, impact: str = "", next_update_minutes: int | None = None
) -> StatusUpdate:
    """The update as it would be posted, unsaved: what the status page will show (the form's preview)."""
    return StatusUpdate(
        incident=incident,
        label=label,
        description=description.strip(),
        affected_services=[service.name for service in incident.services.all()],
        impact=impact.strip() or incident.impact_summary,
        next_update_minutes=next_update_minutes or incident.severity.update_minutes,
    )


def needs_final_update(incident: Incident) -> bool:
    """Resolving a public incident needs its final public update, unless the newest public one already says so."""
    if not incident.is_public:
        return False
    newest = incident.status_updates.filter(is_public=True).order_by("-posted_at", "-pk").first()
    return newest is None or newest.label != StatusUpdate.Label.RESOLVED


def status_update_text(update: StatusUpdate) -> str:
    """The seeds' status-page template, filled in."""
    lines = [f"[Status: {update.get_label_display()}]", "", update.description, ""]
    lines.append(f"Affected services: {', '.join(update.affected_services) or 'none listed'}")
    if update.impact:
        lines.append(f"Impact: {update.impact}")
    if update.next_update_minutes and update.label != StatusUpdate.Label.RESOLVED:
        lines += ["", f"We will provide updates every {update.next_update_minutes} minutes."]
    return "\n".join(lines)


def incident_add_note(*, incident: Incident, text: str, actor: User, now: datetime | None = None) -> TimelineEvent:
    if not text.strip():
        raise ApplicationError("The note is empty.", field="text")
    return timeline_add(
        incident=incident, kind=TimelineEvent.Kind.NOTE, message=text.strip(), actor=actor, at=now or timezone.now()
    )


def incident_update_details(
    *, incident: Incident, actor: User, version: int | None = None, now: datetime | None = None, **changes: Any
) -> Incident:
    """Title, impact summary, affected services, public or internal. Only what differs is changed and recorded."""
    now = now or timezone.now()
    allowed = {"title", "impact_summary", "services", "is_public"}
    if unknown := set(changes) - allowed:
        raise ApplicationError(f"Cannot change {', '.join(sorted(unknown))} here.", field=sorted(unknown)[0])
    if "title" in changes:
        changes["title"] = str(changes["title"]).strip()
        if not changes["title"]:
            raise ApplicationError("Give the incident a title.", field="title")
    with transaction.atomic():
        incident = _lock(incident, version)
        described = []
        for field, value in changes.items():
            if field == "services":
                services = list(value)
                if {service.pk for service in services} == {service.pk for service in incident.services.all()}:
                    continue
                incident.services.set(services)
                described.append("services: " + (", ".join(s.name for s in services) or "none"))
            elif getattr(incident, field) != value:
                setattr(incident, field, value)
                if field == "is_public":
                    described.append("now public" if value else "now internal")
                else:
                    described.append(f"{field.replace('_', ' ')}: {value or '(empty)'}")
        if described:
            _save(incident)
            timeline_add(incident=incident, kind=TimelineEvent.Kind.NOTE, message="Changed " + "; ".join(described),
                         actor=actor, at=now)  # fmt: skip
    return incident


# Post-incident review


def _review_open(incident: Incident, *, now: datetime) -> PostIncidentReview:
    """The incident's review; one opened here starts with the facts drafted from the incident."""
    from incidents.selectors import review_facts

    review = PostIncidentReview.objects.filter(incident=incident).first()
    if review is None:
        resolved_at = incident.resolved_at or now
        review, _ = PostIncidentReview.objects.get_or_create(
            incident=incident,
            defaults={
                "scheduled_for": resolved_at + policy.REVIEW_DELAY,
                "due_at": resolved_at + policy.REVIEW_DUE,
                "facts": review_facts(incident, now=now),
            },
        )
    return review


def review_for(*, incident: Incident, now: datetime | None = None) -> PostIncidentReview:
    """The incident's review, opened on first use once the incident is resolved."""
    if incident.status not in {Status.RESOLVED, Status.REVIEW, Status.CLOSED}:
        raise ApplicationError(f"{incident.reference} has no review before it is resolved.", field="incident")
    with transaction.atomic():
        return _review_open(incident, now=now or timezone.now())


def _lock_review(review: PostIncidentReview, version: int | None) -> PostIncidentReview:
    locked = lock_row(PostIncidentReview.objects.select_related("incident"), review.pk)
    if version is not None and version != locked.version:
        raise ConflictError(
            f"The review was changed by someone else (version {locked.version}, you had {version}). "
            "What you typed is kept: check the latest and save again.",
            extra={"current_version": locked.version},
        )
    return locked


def _review_event(review: PostIncidentReview, message: str, *, actor: User, now: datetime) -> None:
    timeline_add(incident=review.incident, kind=TimelineEvent.Kind.REVIEW, message=message, actor=actor, at=now)


REVIEW_SECTIONS = {
    "facts": "what happened",
    "summary": "summary",
    "root_cause": "root cause",
    "contributing_factors": "contributing factors",
    "scheduled_for": "meeting time",
}


def review_update(
    *,
    review: PostIncidentReview,
    actor: User,
    version: int | None = None,
    now: datetime | None = None,
    **changes: object,
) -> PostIncidentReview:
    """Edit the draft; only the sections that differ are saved and named on the timeline."""
    now = now or timezone.now()
    if unknown := set(changes) - set(REVIEW_SECTIONS):
        raise ApplicationError(f"Cannot change {', '.join(sorted(unknown))} here.", field=sorted(unknown)[0])
    # Browsers send a textarea's line breaks as CRLF: unchanged text must compare equal.
    changes = {
        field: value.replace("\r\n", "\n") if isinstance(value, str) else value for field, value in changes.items()
    }
    with transaction.atomic():
        review = _lock_review(review, version)
        if review.status == PostIncidentReview.Status.PUBLISHED:
            raise ConflictError("The review is published and can no longer change.")
        changed = [field for field, value in changes.items() if getattr(review, field) != value]
        if changed:
            for field in changed:
                setattr(review, field, changes[field])
            review.version += 1
            review.save()
            _review_event(review, "Review draft edited: " + ", ".join(REVIEW_SECTIONS[f] for f in changed),
                          actor=actor, now=now)  # fmt: skip
    return review


def review_publish(
    *, review: PostIncidentReview, actor: User, version: int | None = None, now: datetime | None = None
) -> PostIncidentReview:
    """Freeze the review with a snapshot of the timeline; P1/P2 incidents may then close."""
    now = now or timezone.now()
    with transaction.atomic():
        review = _lock_review(review, version)
        if review.status == PostIncidentReview.Status.PUBLISHED:
            raise ConflictError("The review is already published.")
        missing = [field for field in ("summary", "root_cause") if not getattr(review, field).strip()]
        if missing:
            raise ApplicationError(f"Write the {missing[0].replace('_', ' ')} before publishing.", field=missing[0])
        review.timeline_snapshot = [
            {
                "at": event.at.isoformat(),
                "kind": event.kind,
                "actor": str(event.actor or "system"),
                "message": event.message,
            }
            for event in review.incident.timeline.select_related("actor")
        ]
        review.status = PostIncidentReview.Status.PUBLISHED
        review.published_at, review.published_by = now, actor
        review.version += 1
        review.save()
        _review_event(review, "Post-incident review published", actor=actor, now=now)
    return review


def _clean_ticket_url(url: str) -> str:
    url = url.strip()
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError as exc:
            raise ApplicationError("Give the ticket as an http(s) URL.", field="ticket_url") from exc
    return url


def action_item_add(
    *,
    review: PostIncidentReview,
    title: str,
    owner: User,
    due_date: date,
    actor: User,
    ticket_url: str = "",
    now: datetime | None = None,
) -> ActionItem:
    now = now or timezone.now()
    if not title.strip():
        raise ApplicationError("Say what must be done.", field="title")
    ticket_url = _clean_ticket_url(ticket_url)
    _check_action_item(owner=owner, due_date=due_date, now=now)
    with transaction.atomic():
        review = _lock_review(review, None)
        if review.status == PostIncidentReview.Status.PUBLISHED:
            raise ConflictError("The review is published; track further work outside it.")
        item = ActionItem.objects.create(
            review=review, title=title.strip(), owner=owner, due_date=due_date, ticket_url=ticket_url
        )
        review.version += 1
        review.save(update_fields=["version"])
        _review_event(review, f"Action item added: {item.title} (owner {owner}, due {due_date:%Y-%m-%d})",
                      actor=actor, now=now)  # fmt: skip
    return item


def _check_action_item(*, owner: User | None, due_date: date | None, now: datetime) -> None:
    """An owner who can move the item (a Responder or above), due today (UTC) or later; an item already overdue
    keeps its date until someone moves it."""
    if owner is not None and not has_role(owner, Role.RESPONDER):
        raise ApplicationError(f"{owner} is not a Responder and cannot own an action item.", field="owner")
    if due_date is not None and due_date < now.date():
        raise ApplicationError(f"Due date {due_date:%Y-%m-%d} has passed: pick today or later.", field="due_date")


def action_item_update(*, item: ActionItem, actor: User, now: datetime | None = None, **changes: Any) -> ActionItem:
    """Edit, close or link an action item to its ticket. After publication the title stays as published; owner, due
    date, status and ticket still move, so the work stays trackable."""
    now = now or timezone.now()
    if unknown := set(changes) - {"title", "owner", "due_date", "status", "ticket_url"}:
        raise ApplicationError(f"Cannot change {', '.join(sorted(unknown))} here.", field=sorted(unknown)[0])
    if "title" in changes:
        changes["title"] = str(changes["title"]).strip()
        if not changes["title"]:
            raise ApplicationError("Say what must be done.", field="title")
    if "status" in changes and changes["status"] not in ActionItem.Status.values:
        raise ApplicationError(f"Status must be one of {', '.join(ActionItem.Status.values)}.", field="status")
    if "ticket_url" in changes:
        changes["ticket_url"] = _clean_ticket_url(str(changes["ticket_url"]))
    with transaction.atomic():
        review = _lock_review(item.review, None)
        item = ActionItem.objects.select_for_update().get(pk=item.pk)
        changed = {field: value for field, value in changes.items() if getattr(item, field) != value}
        if "title" in changed and review.status == PostIncidentReview.Status.PUBLISHED:
            raise ConflictError("The review is published: the action item's title stays as published.", field="title")
        if not changed:
            return item
        _check_action_item(owner=changed.get("owner"), due_date=changed.get("due_date"), now=now)
        described = []
        for field, value in changed.items():
            setattr(item, field, value)
            if field == "status":
                described.append("closed" if value == ActionItem.Status.DONE else f"status {item.get_status_display()}")
            elif field == "due_date":
                described.append(f"due {value:%Y-%m-%d}")
            elif field == "ticket_url":
                described.append(f"ticket {value or 'unlinked'}")
            else:
                described.append(f"{field} {value}")
        item.save()
        review.version += 1
        review.save(update_fields=["version"])
        _review_event(review, f"Action item {item.title}: " + "; ".join(described), actor=actor, now=now)
    return item


def review_save(
    *,
    review: PostIncidentReview,
    actor: User,
    version: int | None = None,
    draft: dict[str, Any] | None = None,
    item_changes: dict[int, dict[str, Any]] | None = None,
    new_item: dict[str, Any] | None = None,
    publish: bool = False,
    now: datetime | None = None,
) -> PostIncidentReview:
    """Everything the review page sends with any of its buttons, all or nothing: the draft as typed, edits to action
    items, perhaps a new item, perhaps publication. Whichever button is pressed, nothing typed elsewhere is lost."""
    now = now or timezone.now()
    with transaction.atomic():
        review = _lock_review(review, version)
        items = {item.pk: item for item in review.action_items.all()}
        if unknown := set(item_changes or {}) - set(items):
            raise ApplicationError(f"No action item {sorted(unknown)[0]} in this review.", field="action_item")
        if draft and review.status == PostIncidentReview.Status.DRAFT:
            review = review_update(review=review, actor=actor, now=now, **draft)
        for pk, changes in (item_changes or {}).items():
            action_item_update(item=items[pk], actor=actor, now=now, **changes)
        if new_item is not None:
            action_item_add(review=review, actor=actor, now=now, **new_item)
        if publish:
            review_publish(review=review, actor=actor, now=now)
    review.refresh_from_db()
    return review


# Timers


def incident_sweep_timers(*, now: datetime | None = None) -> int:
    """Remind commanders of missed deadlines, once per deadline, and escalate P1/P2 without a root cause."""
    now = now or timezone.now()
    sent = 0
    open_incidents = Incident.objects.exclude(status__in=[Status.RESOLVED, Status.REVIEW, Status.CLOSED])
    for incident in open_incidents.select_related("severity", "commander"):
        for timer, due in (
            (TimerReminder.Timer.ACKNOWLEDGE, incident.ack_due_at),
            (TimerReminder.Timer.UPDATE, incident.update_due_at),
            (TimerReminder.Timer.RESOLUTION, incident.resolution_due_at),
        ):
            if due is not None and due <= now and _remind(incident, timer, due, now=now):
                sent += 1
        if policy.needs_root_cause_escalation(incident, now=now):
            incident_flag(incident=incident, flag=Incident.Flag.ROOT_CAUSE_UNKNOWN, actor=None, now=now)
    # Reviews still unpublished a day after resolution: one reminder each, ahead of their 48 h due time.
    waiting = PostIncidentReview.objects.filter(
        status=PostIncidentReview.Status.DRAFT,
        incident__status__in=[Status.RESOLVED, Status.REVIEW],
        incident__resolved_at__lte=now - policy.REVIEW_REMINDER,
        due_at__isnull=False,
    ).select_related("incident__severity", "incident__commander", "incident__reporter")
    for review in waiting:
        if _remind_review(review, now=now):
            sent += 1
    return sent


def _remind_review(review: PostIncidentReview, *, now: datetime) -> bool:
    incident = review.incident
    due = review.due_at or now
    try:
        with transaction.atomic():
            TimerReminder.objects.create(incident=incident, timer=TimerReminder.Timer.REVIEW, due_at=due)
            timeline_add(incident=incident, kind=TimelineEvent.Kind.REMINDER,
                         message=f"The post-incident review is due {due:%a %d %b %H:%M} UTC", actor=None, at=now,
                         data={"timer": TimerReminder.Timer.REVIEW, "due_at": due.isoformat()})  # fmt: skip
            notify(
                event=EventKind.REMINDER,
                severity=NotificationSeverity.WARNING,
                title=f"{incident.reference} [{incident.severity.code}] post-incident review due "
                f"{due:%a %d %b %H:%M} UTC: {incident.title}",
                summary="Resolved a day ago: write the timeline, root cause and action items, then publish it.",
                url=settings.PORTAL_BASE_URL + reverse("incident-review", args=[incident.pk]),
                recipients=[user for user in (incident.commander or incident.reporter,) if user is not None],
                source=f"incident:{incident.pk}:review-reminder",
            )
    except IntegrityError:
        return False  # reminded already
    return True


def _remind(incident: Incident, timer: str, due: datetime, *, now: datetime) -> bool:
    try:
        with transaction.atomic():
            TimerReminder.objects.create(incident=incident, timer=timer, due_at=due)
            label = TimerReminder.Timer(timer).label.lower()
            minutes = int((now - due).total_seconds() // 60)
            timeline_add(incident=incident, kind=TimelineEvent.Kind.REMINDER,
                         message=f"Overdue: {label} was due {minutes} min ago", actor=None, at=now,
                         data={"timer": timer, "due_at": due.isoformat()})  # fmt: skip
            notify(
                event=EventKind.REMINDER,
                severity=NotificationSeverity.WARNING,
                title=f"{incident.reference} [{incident.severity.code}] {label} overdue: {incident.title}",
                summary=f"The {label} was due at {due:%H:%M} UTC.",
                url=incident_url(incident),
                recipients=[user for user in (incident.commander or incident.reporter,) if user is not None],
                source=f"incident:{incident.pk}:reminder",
            )
    except IntegrityError:
        return False  # this deadline was reminded already (by an earlier sweep or a concurrent one)
    return True
