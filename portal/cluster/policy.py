"""Who may run which cluster action where, when a second person must approve, and when a freeze stops a change.

Asked when a run is requested and confirmed, when someone approves it, and again by the worker just before it
starts (roles, incidents and freezes change in between). Nothing else decides these questions.

| role \\ action              | read-only (status, history) | change, not production | change, production    |
| Viewer                     | no                          | no                     | no                    |
| Responder                  | yes                         | yes                    | asks (**)             |
| Incident Commander, Admin  | yes                         | yes                    | yes (*)               |

(*) drain, Redis FLUSHDB, terminating PostgreSQL connections (idle ones, or one backend) and setting a secret's key
in production also need the approval of a second person who may run it too (an Incident Commander), never the
requester. During a freeze, production changes go through as the freeze calendar's one table of levels says
(`maintenance.policy.LEVEL_RULES`): flagged as an emergency and linked to an open P1 or P2 incident; in a blocked
freeze, also approved by such a second person. Rollbacks and read-only actions always may run. Maintenance actions
(VACUUM ANALYZE) run in production only inside a maintenance window of production, or as such an emergency.

(**) A Responder may request a production change; it then waits for the approval of an Incident Commander, like the
actions above (a Responder is guided to ask, never refused for the role alone).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from maintenance.models import FreezeLevel
from maintenance.policy import FreezeStatus, Pass, emergency_shortfall, freeze_status, level_admits
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
    """Why `user` may not run (or approve) this action themselves, if they may not."""
    role = required_role(kind, environment)
    if has_role(user, role):
        return None
    where = Environment(environment).label.lower()
    return f"{ActionKind(kind).label} in {where} needs the {role.label} role."


def asks_approval(user: User, kind: str, environment: str) -> bool:
    """A Responder's production change: they may request it, and it waits for someone who may run it to approve."""
    return has_role(user, Role.RESPONDER) and not has_role(user, required_role(kind, environment))


def request_role_refusal(user: User, kind: str, environment: str) -> str | None:
    """Why `user` may not even request this action: whoever may run it requests it, and so does a Responder asking
    for approval."""
    return None if asks_approval(user, kind, environment) else role_refusal(user, kind, environment)


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


def second_person(run: ActionRun) -> User | None:
    """Who approved `run` among those who may run it too, never its requester; None when nobody (yet)."""
    role = required_role(run.kind, run.environment)
    return next(
        (
            approval.approver
            for approval in run.approvals.all()
            if approval.decision == ActionApproval.Decision.APPROVED
            and approval.approver_id != run.requested_by_id
            and has_role(approval.approver, role)
        ),
        None,
    )


def approval_needed(run: ActionRun) -> bool:
    """Whatever the freeze: some actions in production, and every production change a Responder requested."""
    return needs_approval(run.kind, run.environment) or asks_approval(run.requested_by, run.kind, run.environment)


def approval_missing(run: ActionRun) -> str | None:
    """For a run that needs a second person: no approval from someone who may still run it, and is not the requester."""
    if not approval_needed(run):
        return None
    return None if second_person(run) else "It needs the approval of a second person who may run it."


def needs_second_person(run: ActionRun, *, at: datetime, freeze: FreezeLookup | None = None) -> bool:
    """Whether `run` waits for a second person: always for some actions in production and for a Responder's
    production change, and for every production change in a blocked freeze (its only way through)."""
    if approval_needed(run):
        return True
    if run.kind in ALWAYS_ALLOWED_IN_FREEZE or run.environment != Environment.PRODUCTION:
        return False
    status = (freeze or current_freeze)(run.environment, at)
    return status is not None and not status.allowed and status.level == FreezeLevel.BLOCKED


def current_freeze(environment: str, at: datetime) -> FreezeStatus | None:
    """The freeze calendar's answer for `environment` at `at` (approved deploy exceptions are for deployments, not
    cluster actions: an action gets through a freeze as an emergency linked to an open P1/P2)."""
    return freeze_status(environment, at, change=None)


def production_freeze(at: datetime) -> FreezeStatus | None:
    """The freeze holding production changes at `at`, for pages to show before anyone is refused; None when open."""
    status = current_freeze(Environment.PRODUCTION, at)
    return status if status is not None and not status.allowed else None


def run_emergency_shortfall(run: ActionRun) -> str | None:
    """Why a run flagged as an emergency does not count as one during a freeze (None: it counts, or is not flagged)."""
    return emergency_shortfall(run.incident) if run.emergency else None


def freeze_pass(
    run: ActionRun, *, at: datetime, freeze: FreezeLookup | None = None, approval_to_come: bool = False
) -> tuple[FreezeStatus | None, Pass | None]:
    """The freeze in force for `run` at `at` (None: none holds it) and the pass that gets it through (None: refused).
    `approval_to_come`: at request time a second person's approval still may come; the worker asks without it."""
    if run.kind in ALWAYS_ALLOWED_IN_FREEZE or run.environment != Environment.PRODUCTION:
        return None, None
    status = (freeze or current_freeze)(run.environment, at)
    if status is None or status.allowed or status.level is None:
        return None, None
    passes = []
    if run.emergency and run_emergency_shortfall(run) is None:
        passes.append(Pass.EMERGENCY)
        if approval_to_come or (run.pk is not None and second_person(run) is not None):
            passes.append(Pass.APPROVED_EMERGENCY)
    return status, level_admits(status.level, passes)


def freeze_blocks(
    run: ActionRun, *, at: datetime, freeze: FreezeLookup | None = None, approval_to_come: bool = False
) -> str | None:
    """Why a freeze refuses `run` at `at`, or None. `freeze` replaces the calendar lookup (tests, previews)."""
    status, passed = freeze_pass(run, at=at, freeze=freeze, approval_to_come=approval_to_come)
    if status is None or passed is not None:
        return None
    level = f" ({status.level})" if status.level else ""
    until = f" until {status.until:%Y-%m-%d %H:%M} UTC" if status.until else ""
    why = f": {'; '.join(status.reasons)}" if status.reasons else ""
    needs = (
        "Only an emergency change linked to an open P1 or P2 incident and approved by a second person may run now"
        if status.level == FreezeLevel.BLOCKED
        else "Only an emergency change linked to an open P1 or P2 incident may run now"
    )
    shortfall = f" {shortfall}" if (shortfall := run_emergency_shortfall(run)) else ""
    return f"Production is frozen{level}{until}{why}. {needs}; rollbacks and read-only actions always may.{shortfall}"


def current_maintenance(environment: str, at: datetime) -> str | None:
    """The maintenance window of `environment` in progress at `at` (from the maintenance calendar), if any."""
    from maintenance.selectors import calendar_entries

    for entry in calendar_entries(start=at, end=at + timedelta(seconds=1)):
        if entry.window.environment == environment and entry.start <= at < entry.end:
            return f"{entry.window.name} ({entry.start:%H:%M}-{entry.end:%H:%M} UTC)"
    return None


def maintenance_blocks(run: ActionRun, *, at: datetime, window: WindowLookup | None = None) -> str | None:
    """Why a maintenance action may not run in production at `at`: no maintenance window is in progress."""
    if run.kind not in MAINTENANCE_ONLY or run.environment != Environment.PRODUCTION:
        return None
    shortfall = run_emergency_shortfall(run)
    if (run.emergency and shortfall is None) or (window or current_maintenance)(run.environment, at):
        return None
    shortfall = f" {shortfall}" if shortfall else ""
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
    if refused := request_role_refusal(user, run.kind, run.environment):
        return Refusal(refused, field="kind")
    if refused := freeze_blocks(run, at=at, freeze=freeze, approval_to_come=True) or maintenance_blocks(
        run, at=at, window=window
    ):
        return Refusal(refused, field="emergency")
    return None


def start_refusal(
    run: ActionRun, *, at: datetime, freeze: FreezeLookup | None = None, window: WindowLookup | None = None
) -> str | None:
    """The worker's check before it starts: the requester's role today, the approval it needs, a freeze, a
    maintenance window."""
    return (
        request_role_refusal(run.requested_by, run.kind, run.environment)
        or approval_missing(run)
        or freeze_blocks(run, at=at, freeze=freeze)
        or maintenance_blocks(run, at=at, window=window)
    )


@dataclass(frozen=True)
class Guidance:
    """Where a request would stand now, said on the form before anyone continues: the freeze that holds changes in
    its environment (None: none does), who must approve it ("" when nobody), and the refusal it would meet."""

    environment: str
    freeze: FreezeStatus | None
    approver: str
    refusal: Refusal | None


def request_guidance(
    run: ActionRun, *, at: datetime, freeze: FreezeLookup | None = None, window: WindowLookup | None = None
) -> Guidance:
    """The same questions the request asks, for `run` (unsaved) as its requester would send it at `at`."""
    status = (freeze or current_freeze)(run.environment, at) if run.environment == Environment.PRODUCTION else None
    return Guidance(
        environment=run.environment,
        freeze=status if status is not None and not status.allowed else None,
        approver=approver_wanted(run, at=at, freeze=freeze),
        refusal=request_refusal(run, user=run.requested_by, at=at, freeze=freeze, window=window),
    )


def approver_wanted(run: ActionRun, *, at: datetime, freeze: FreezeLookup | None = None) -> str:
    """Who must approve `run` (requested, or awaiting approval) before it runs, for people: "" when nobody."""
    role = required_role(run.kind, run.environment).label
    if asks_approval(run.requested_by, run.kind, run.environment):
        return f"an {role}"
    if run.status == ActionRun.Status.AWAITING_APPROVAL or needs_second_person(run, at=at, freeze=freeze):
        return f"another {role}"
    return ""
