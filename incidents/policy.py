"""The incident rules: which status may follow which, and when each timer falls due."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings

from incidents.models import Incident, PostIncidentReview, Severity, StatusUpdate
from oncall.selectors import incident_rotation, rotation_timezone
from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.scheduling import BusinessHours, add_business_days, is_business_hours
from portal.text import duration_words

Status = Incident.Status

ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    Status.TRIAGE: (Status.INVESTIGATING, Status.RESOLVED),
    Status.INVESTIGATING: (Status.IDENTIFIED, Status.MITIGATING, Status.RESOLVED),
    Status.IDENTIFIED: (Status.MITIGATING, Status.INVESTIGATING, Status.RESOLVED),
    Status.MITIGATING: (Status.MONITORING, Status.IDENTIFIED, Status.RESOLVED),
    Status.MONITORING: (Status.RESOLVED, Status.MITIGATING, Status.INVESTIGATING),
    Status.RESOLVED: (Status.REVIEW, Status.CLOSED, Status.INVESTIGATING),  # investigating again: a re-open
    Status.REVIEW: (Status.CLOSED,),
    Status.CLOSED: (),
}
# Raising to P1 is the seeds' "escalate immediately" for these flags.
IMMEDIATE_ESCALATION_FLAGS = frozenset(Incident.Flag.values)
# Flags the security team hears of in its own channel.
SECURITY_FLAGS = frozenset({Incident.Flag.DATA_BREACH, Incident.Flag.ACTIVE_ATTACK})
ROOT_CAUSE_DEADLINE = timedelta(minutes=15)
REVIEW_DELAY = timedelta(hours=24)  # the seeds' post-incident review: 24-48 h after resolution
REVIEW_DUE = timedelta(hours=48)  # published by then
REVIEW_REMINDER = timedelta(hours=24)  # after resolution, one reminder while still unpublished
# The seeds' "monitor for 1-2 hours" before resolving: a P1/P2 resolved sooner after mitigation needs a confirmation.
MONITOR_BEFORE_RESOLVING = timedelta(hours=1)
CONFIRM_RESOLVE_MAX_RANK = 2
# Flags that are security events: notified as such, which routing sends to the seeds' #security-incidents.
SECURITY_FLAGS = frozenset({Incident.Flag.DATA_BREACH, Incident.Flag.ACTIVE_ATTACK})

# What anyone working an action item (a Responder) may change on it; its title, owner and due date are the
# commander's to set.
ACTION_ITEM_TRACKING_FIELDS = frozenset({"status", "ticket_url"})

# Where the two seeds disagree: response times. The portal keeps the operations manual's on-call policy (business
# hours / after hours); its severity table and the operations guide's incident table say otherwise.
SEED_RESPONSE_TIMES: dict[str, tuple[str, str]] = {
    # code: (operations manual's severity table, operations guide's incident table)
    "P1": ("< 5 min", "15 min"),
    "P2": ("15 min", "30 min"),
    "P3": ("1 h", "2 h"),
    "P4": ("next business day", "24 h"),
}
# The manual's alert-routing table labels its levels Critical = P0, Warning = P1, Info = P2, while its severity table
# runs P1-P4 with no P0; the portal routes by severity (P1/P2 critical, P3 warning, P4 info) and shows both.
MANUAL_ROUTING_LABELS = {"critical": "P0", "warning": "P1", "info": "P2"}
# The guide's on-call chain; the portal follows the manual's escalation matrix (the rotation's primary and secondary,
# then the Platform lead, the engineering manager / CTO, executives).
GUIDE_ONCALL_CHAIN = (("Primary", "DevOps Team (PagerDuty)"), ("Secondary", "Backend Team Lead"), ("Escalation", "CTO"))


def update_public_by_default(incident: Incident, user: User) -> bool:
    """A status update starts internal for Responders; an Incident Commander's follows the incident's visibility."""
    return incident.is_public and has_role(user, Role.INCIDENT_COMMANDER)


def update_draft(incident: Incident, label: str) -> str:
    """The seeds' template sentence for the chosen status. The title is quoted as typed: "API" stays "API"."""
    services = ", ".join(service.name for service in incident.services.all()) or "our services"
    issue = f"the issue affecting {services} ({incident.title})"
    return {
        StatusUpdate.Label.INVESTIGATING: f"We are currently investigating {issue}.",
        StatusUpdate.Label.IDENTIFIED: f"We have identified the cause of {issue} and are working on a fix.",
        StatusUpdate.Label.MONITORING: f"A fix for {issue} is in place; we are monitoring the results.",
        StatusUpdate.Label.RESOLVED: f"{issue[0].upper()}{issue[1:]} has been resolved.",
    }[StatusUpdate.Label(label)]


def allowed_transitions(incident: Incident) -> tuple[str, ...]:
    """Next statuses open to the incident now (closing waits for a published review where one is required)."""
    review = getattr(incident, "review", None)
    return next_statuses(
        incident.status,
        review_required=review_required(incident),
        review_status=None if review is None else review.status,
    )


def next_statuses(status: str, *, review_required: bool, review_status: str | None) -> tuple[str, ...]:
    """`allowed_transitions` from the values it reads, for rows read without their models (the API's lists)."""
    allowed = ALLOWED_TRANSITIONS[status]
    if Status.CLOSED in allowed and review_required and review_status != PostIncidentReview.Status.PUBLISHED:
        allowed = tuple(following for following in allowed if following != Status.CLOSED)
    return allowed


def review_required(incident: Incident) -> bool:
    return incident.severity.review_required


@lru_cache(maxsize=4)
def _business_hours(zone: str, country: str | None) -> BusinessHours:
    return BusinessHours(zone=zone, holiday_country=country or None)


def business_hours(incident: Incident | None = None) -> BusinessHours:
    """09:00-18:00 on working days, in the timezone of the rotation answering for the incident (the seeds' on-call
    response policy), else BUSINESS_HOURS_TIMEZONE."""
    zone = settings.BUSINESS_HOURS_TIMEZONE
    if incident is not None and incident.pk is not None and (rotation := incident_rotation(incident)) is not None:
        zone = rotation_timezone(rotation, at=incident.detected_at)
    return _business_hours(zone, settings.HOLIDAY_COUNTRY)


def response_due(severity: Severity, detected_at: datetime, hours: BusinessHours | None = None) -> datetime:
    """When the incident must be acknowledged: the seeds' on-call response policy, which differs between business
    hours and after hours and weekends (P3/P4 after hours: the next business day)."""
    hours = hours or business_hours()
    if is_business_hours(hours, at=detected_at):
        minutes, days = severity.response_minutes, severity.response_business_days
    else:
        minutes = severity.after_hours_response_minutes
        days = severity.after_hours_response_business_days
        if minutes is None and days is None:  # no after-hours target: the business-hours one applies
            minutes, days = severity.response_minutes, severity.response_business_days
    if minutes is not None:
        return detected_at + timedelta(minutes=minutes)
    return add_business_days(hours, at=detected_at, days=days or 1)


def targets_summary(severity: Severity) -> str:
    """The timers a severity sets, as people say them: "P1: acknowledge within 5 min (15 min after hours), update
    every 15 min, resolve within 1 h"."""

    def within(minutes: int | None, business_days: int | None) -> str:
        if minutes:
            return f"within {duration_words(minutes)}"
        return "by the next business day" if business_days == 1 else f"within {business_days} business days"

    respond = within(severity.response_minutes, severity.response_business_days)
    if severity.after_hours_response_minutes or severity.after_hours_response_business_days:
        after = within(severity.after_hours_response_minutes, severity.after_hours_response_business_days)
        respond += f" ({after.removeprefix('within ')} after hours)"
    update = f"every {duration_words(severity.update_minutes)}" if severity.update_minutes else "as needed"
    return f"{severity.code}: acknowledge {respond}, update {update}, resolve within " + duration_words(
        severity.resolution_minutes
    )


@dataclass(frozen=True)
class Timers:
    ack_due_at: datetime | None
    update_due_at: datetime | None
    resolution_due_at: datetime | None


def timers(incident: Incident) -> Timers:
    """What is due next, from the severity's targets and the newest update's promise; a met or irrelevant timer is
    None."""
    severity = incident.severity
    open_ = incident.is_open
    ack = None
    if open_ and incident.acknowledged_at is None:
        ack = response_due(severity, incident.detected_at, business_hours(incident))
    update = None
    # The severity's frequency, or sooner where the newest update promised sooner (P4's "as needed": the promise).
    every = min(filter(None, (severity.update_minutes, incident.promised_update_minutes)), default=None)
    if open_ and every:
        since = incident.last_update_at or incident.acknowledged_at or incident.detected_at
        update = since + timedelta(minutes=every)
    resolution = incident.detected_at + timedelta(minutes=severity.resolution_minutes) if open_ else None
    return Timers(ack_due_at=ack, update_due_at=update, resolution_due_at=resolution)


def needs_root_cause_escalation(incident: Incident, *, now: datetime) -> bool:
    """P1/P2 still without an identified cause 15 minutes after detection (seeds: escalate immediately)."""
    return (
        incident.status in {Status.TRIAGE, Status.INVESTIGATING}
        and incident.severity.rank <= 2
        and Incident.Flag.ROOT_CAUSE_UNKNOWN not in incident.flags
        and now - incident.detected_at >= ROOT_CAUSE_DEADLINE
    )


def resolving_unmonitored(incident: Incident, *, now: datetime) -> str | None:
    """Why resolving a P1/P2 now would skip the seeds' hour of monitoring, which then needs a confirmation ("was
    mitigated 20 min ago", "was never monitored"); None once it has been monitored long enough, and for P3/P4."""
    if incident.severity.rank > CONFIRM_RESOLVE_MAX_RANK:
        return None
    if incident.mitigated_at is None:
        return "was never monitored after a mitigation"
    since = now - incident.mitigated_at
    if since >= MONITOR_BEFORE_RESOLVING:
        return None
    return f"was mitigated {int(since.total_seconds() // 60)} min ago"
