"""Who may run which cluster action where, when a second person must approve, and when a freeze stops a change.

Asked when a run is requested and confirmed, when someone approves it, and again by the worker just before it
starts (roles, incidents and freezes change in between). Nothing else decides these questions.

| role \\ action              | read-only (status, history) | change, not production | change, production    |
| Viewer                     | no                          | no                     | no                    |
| Responder                  | yes                         | yes                    | no                    |
| Incident Commander, Admin  | yes                         | yes                    | yes (*)               |

(*) drain, Redis FLUSHDB, terminating PostgreSQL connections (idle ones, or one backend) and setting a secret's key
in production also need the approval of a second person who may run it too (an Incident Commander), never the
requester. During a freeze, production changes are refused unless flagged as an emergency and linked to an open P1
or P2 incident; rollbacks and read-only actions always may run. Maintenance actions (VACUUM ANALYZE) run in
production only inside a maintenance window of production, or as such an emergency.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from maintenance.policy import FreezeStatus, freeze_status
from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.cluster.actions import READ_ONLY
from portal.cluster.models import ActionApproval, ActionKind, ActionRun
from portal.core.models import Environment

SECOND_PERSON_IN_PRODUCTION = frozenset(
    {
        ActionKind.DRAIN,
        ActionKind.REDIS_FLUSH,
        ActionKind.PG_TERMINATE_IDLE,
        ActionKind.PG_TERMINATE_BACKEND,
        ActionKind.SECRET_SET,
    }
)
MAINTENANCE_ONLY = frozenset({ActionKind.PG_VACUUM_ANALYZE})
ALWAYS_ALLOWED_IN_FREEZE = READ_ONLY | {ActionKind.ROLLBACK}
EMERGENCY_MAX_SEVERITY_RANK = 2  # P1 and P2


FreezeLookup = Callable[[str, datetime], FreezeStatus | None]
# The maintenance window of an environment in progress at an instant, described, or None.
WindowLookup = Callable[[str, datetime], str | None]


def required_role(kind: str, environment: str) -> Role:
    if kind in READ_ONLY or environment != Environment.PRODUCTION:
        return Role.RESPONDER
    return Role.INCIDENT_COMMANDER


def needs_approval(kind: str, environment: str) -> bool:
    return kind in SECOND_PERSON_IN_PRODUCTION and environment == Environment.PRODUCTION


def role_refusal(user: User, kind: str, environment: str) -> str | None:
    role = required_role(kind, environment)
    if has_role(user, role):
        return None
    where = Environment(environment).label.lower()
    return f"{ActionKind(kind).label} in {where} needs the {role.label} role."


def approval_refusal(*, approver: User, run: ActionRun, at: datetime) -> str | None:
    """Why `approver` may not decide on `run` now, if they may not."""
    if approver.pk == run.requested_by_id:
        return "You requested this action: a second person must approve it."
    if run.approval_expires_at is not None and at >= run.approval_expires_at:
        return (
            f"The request expired at {run.approval_expires_at:%Y-%m-%d %H:%M} UTC without approval; request it again."
        )
    if refused := role_refusal(approver, run.kind, run.environment):
        return f"Approving: {refused}"
    return None


def approval_missing(run: ActionRun) -> str | None:
    """For a run that needs a second person: no approval from someone who may still run it, and is not the requester."""
    if not needs_approval(run.kind, run.environment):
        return None
    role = required_role(run.kind, run.environment)
    valid = [
        approval
        for approval in run.approvals.all()
        if approval.decision == ActionApproval.Decision.APPROVED
        and approval.approver_id != run.requested_by_id
        and has_role(approval.approver, role)
    ]
    return None if valid else "It needs the approval of a second person who may run it."


def current_freeze(environment: str, at: datetime) -> FreezeStatus | None:
    """The freeze calendar's answer for `environment` at `at` (approved deploy exceptions are for deployments, not
    cluster actions: an action gets through a freeze as an emergency linked to an open P1/P2)."""
    return freeze_status(environment, at, change=None)


def production_freeze(at: datetime) -> FreezeStatus | None:
    """The freeze holding production changes at `at`, for pages to show before anyone is refused; None when open."""
    status = current_freeze(Environment.PRODUCTION, at)
    return status if status is not None and not status.allowed else None


def emergency_shortfall(run: ActionRun) -> str | None:
    """Why a run flagged as an emergency does not count as one during a freeze (None: it counts, or is not flagged)."""
    incident = run.incident
    if not run.emergency:
        return None
    if incident is None:
        return "An emergency change names the open P1 or P2 incident it answers."
    if not incident.is_open:
        return f"{incident.reference} is {incident.get_status_display().lower()}: an emergency needs an open incident."
    if incident.severity.rank > EMERGENCY_MAX_SEVERITY_RANK:
        return f"{incident.reference} is {incident.severity.code}: an emergency change answers a P1 or P2 incident."
    return None


def _emergency(run: ActionRun) -> bool:
    return run.emergency and emergency_shortfall(run) is None


def freeze_blocks(run: ActionRun, *, at: datetime, freeze: FreezeLookup | None = None) -> str | None:
    """Why a freeze refuses `run` at `at`, or None. `freeze` replaces the calendar lookup (tests, previews)."""
    if run.kind in ALWAYS_ALLOWED_IN_FREEZE or run.environment != Environment.PRODUCTION:
        return None
    status = (freeze or current_freeze)(run.environment, at)
    if status is None or status.allowed or _emergency(run):
        return None
    level = f" ({status.level})" if status.level else ""
    until = f" until {status.until:%Y-%m-%d %H:%M} UTC" if status.until else ""
    why = f": {'; '.join(status.reasons)}" if status.reasons else ""
    shortfall = f" {shortfall}" if (shortfall := emergency_shortfall(run)) else ""
    return (
        f"Production is frozen{level}{until}{why}. Only an emergency change linked to an open P1 or P2 incident may "
        f"run now; rollbacks and read-only actions always may.{shortfall}"
    )


def current_maintenance(environment: str, at: datetime) -> str | None:
    """The maintenance window of `environment` in progress at `at` (from the maintenance calendar), if any."""
    from maintenance.selectors import calendar_entries

    for entry in calendar_entries(start=at, end=at + timedelta(seconds=1)):
        if entry.window.environment == environment and entry.start <= at < entry.end:
            return f"{entry.window.name} ({entry.start:%H:%M}-{entry.end:%H:%M} UTC)"
    return None


def maintenance_blocks(run: ActionRun, *, at: datetime, window: WindowLookup | None = None) -> str | None:
    """Why a maintenance action may not run in production at `at`: no maintenance window is in progress."""
    if run.kind not in MAINTENANCE_ONLY or run.environment != Environment.PRODUCTION or _emergency(run):
        return None
    if (window or current_maintenance)(run.environment, at):
        return None
    shortfall = f" {shortfall}" if (shortfall := emergency_shortfall(run)) else ""
    return (
        f"{ActionKind(run.kind).label} is maintenance: in production it runs inside a maintenance window (none is "
        "in progress now), or as an emergency change linked to an open P1 or P2 incident." + shortfall
    )


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused, and the field whose change could turn the answer: the action (a role) or the
    emergency flag (a freeze), so forms show the reason beside the way out."""

    message: str
    field: str

    def __str__(self) -> str:
        return self.message


def request_refusal(
    run: ActionRun, *, user: User, at: datetime, freeze: FreezeLookup | None = None, window: WindowLookup | None = None
) -> Refusal | None:
    """Why `user` may not request (or confirm) `run` now: their role, then a freeze, then no maintenance window."""
    if refused := role_refusal(user, run.kind, run.environment):
        return Refusal(refused, field="kind")
    if refused := freeze_blocks(run, at=at, freeze=freeze) or maintenance_blocks(run, at=at, window=window):
        return Refusal(refused, field="emergency")
    return None


def start_refusal(
    run: ActionRun, *, at: datetime, freeze: FreezeLookup | None = None, window: WindowLookup | None = None
) -> str | None:
    """The worker's check before it starts: the requester's role today, the approval it needs, a freeze, a
    maintenance window."""
    return (
        role_refusal(run.requested_by, run.kind, run.environment)
        or approval_missing(run)
        or freeze_blocks(run, at=at, freeze=freeze)
        or maintenance_blocks(run, at=at, window=window)
    )
