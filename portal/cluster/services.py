"""Every change to an action run goes through here: checked by policy, locked, audited, on the incident's timeline.

A run is a row first and a Celery message second: the message is sent when the transaction that queued the row
commits, and the sweeper sends it again if the broker lost it. The worker moves a run from queued to running once,
under a row lock, so a second message for the same run does nothing; a run whose worker stops reporting is marked
abandoned by the reaper and never run again on its own.
"""

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, TimelineEvent
from incidents.services import timeline_add
from maintenance.models import FreezePass
from maintenance.policy import Pass
from maintenance.services import freeze_pass_record
from portal import kube
from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.accounts.selectors import approvers
from portal.cluster import actions, looks, policy, runner
from portal.cluster.datastores import DataStoreError
from portal.cluster.models import (
    RESOLUTIONS,
    ActionApproval,
    ActionKind,
    ActionRun,
    Look,
    LookKind,
    ProgressLine,
    Target,
)
from portal.cluster.secrets import fingerprint, scrub
from portal.errors import ApplicationError, ConflictError, ForbiddenError
from portal.locking import lock_row
from portal.notifications.models import EventKind
from portal.notifications.models import Severity as NotificationSeverity
from portal.notifications.services import notify

logger = logging.getLogger(__name__)
Status = ActionRun.Status
CANCELLABLE = (Status.REQUESTED, Status.AWAITING_APPROVAL, Status.QUEUED)


def _lock(run_id: int) -> ActionRun:
    return lock_row(ActionRun.objects.select_related("target", "requested_by", "incident__severity"), run_id)


def _timeline(run: ActionRun, message: str, *, actor: User | None, at: datetime) -> None:
    if run.incident is None:
        return
    timeline_add(
        incident=run.incident,
        kind=TimelineEvent.Kind.ACTION,
        message=f"{run.reference} {run.get_kind_display()} {actions.subject(ActionKind(run.kind), run.parameters)}"
        f" on {run.target}: {message}",
        actor=actor,
        at=at,
        data={"action_run": run.pk, "status": run.status},
    )


def _line(run: ActionRun, message: str, *, at: datetime) -> None:
    ProgressLine.objects.create(run=run, at=at, message=message[:4000])


def _enqueue_on_commit(run: ActionRun, *, now: datetime) -> None:
    from portal.cluster.tasks import run_action

    run.enqueued_at = now
    run_id, requester_id = run.pk, run.requested_by_id
    # robust: a broker outage must not fail the caller; the run stays queued and the sweeper sends it again.
    transaction.on_commit(lambda: run_action.apply_async((run_id, requester_id)), robust=True)


def _queue(run: ActionRun, *, now: datetime) -> None:
    run.status, run.queued_at = Status.QUEUED, now
    _enqueue_on_commit(run, now=now)


def _finish(run: ActionRun, status: str, *, error: str, now: datetime, actor: User | None) -> None:
    run.status, run.error, run.finished_at, run.secret_value = status, error, now, ""
    run.save()
    _timeline(run, f"{run.get_status_display().lower()}: {error}", actor=actor, at=now)


def _ask_for_approval(run: ActionRun, *, requester: User) -> None:
    """Tell the people who may approve (Incident Commanders and Admins other than the requester) what waits for them."""
    notify(
        event=EventKind.APPROVAL_REQUESTED,
        severity=NotificationSeverity.WARNING,
        title=f"{run.reference} needs a second approval: {run.get_kind_display()} on {run.target} ({run.environment})",
        summary=f"Requested by {requester} because: {run.reason}\n\n{run.command}",
        url=settings.PORTAL_BASE_URL + reverse("action-detail", args=[run.pk]),
        recipients=approvers(excluding=requester),
        source=f"action:{run.pk}",
        created_by=requester,
    )


def _submit(run: ActionRun, *, actor: User, now: datetime, freeze: policy.FreezeLookup | None) -> None:
    run.submitted_at = now
    if policy.needs_second_person(run, at=now, freeze=freeze):
        run.status = Status.AWAITING_APPROVAL
        run.approval_expires_at = now + timedelta(seconds=settings.ACTION_APPROVAL_WINDOW_SECONDS)
        message = f"requested ({run.reason}); awaiting a second person's approval"
        _ask_for_approval(run, requester=actor)
    else:
        _queue(run, now=now)
        message = f"requested ({run.reason}); queued"
    run.save()
    _timeline(run, message, actor=actor, at=now)


MAX_SECRET_LENGTH = 8000


def _take_secret(run: ActionRun, value: str, *, required: bool) -> None:
    """Keep the value typed for a secret's key on the run (encrypted, never audited) and its fingerprint in the
    parameters; refuse a value for anything else, or beside a generated one."""
    if run.kind != ActionKind.SECRET_SET or run.parameters.get("generate"):
        if value:
            why = "the value is generated" if run.kind == ActionKind.SECRET_SET else "only a secret's key takes a value"
            raise ApplicationError(f"Value: not wanted here ({why}).", field="value")
        return
    if not value:
        if required and not run.secret_value:
            raise ApplicationError(
                "Value: type it (it is never shown again), or choose to generate one.", field="value"
            )
        return
    if len(value) > MAX_SECRET_LENGTH or "\x00" in value:
        raise ApplicationError(f"Value: at most {MAX_SECRET_LENGTH} characters, and no NUL.", field="value")
    run.secret_value = value
    run.parameters = {**run.parameters, "fingerprint": fingerprint(value)}


def action_run_request(
    *,
    requester: User,
    target: Target,
    kind: str,
    parameters: Mapping[str, object],
    reason: str,
    incident: Incident | None = None,
    emergency: bool = False,
    confirm: bool = False,
    secret_value: str = "",
    now: datetime | None = None,
    freeze: policy.FreezeLookup | None = None,
) -> ActionRun:
    """Validate, check policy and read the target, then record the run: `requested` (awaiting the requester's
    confirmation) or, with `confirm`, submitted at once (awaiting approval, or queued). `secret_value` is the value
    typed for a secret's key (it may also come with the confirmation)."""
    now = now or timezone.now()
    if kind not in ActionKind.values:
        raise ApplicationError(f"Unknown action {kind!r}.", field="kind")
    if not target.enabled:
        raise ApplicationError(f"{target} is disabled: it takes no new actions.", field="target")
    if not reason.strip():
        raise ApplicationError("Say why: the reason goes on the record (and the incident's timeline).", field="reason")
    if emergency and incident is None:
        raise ApplicationError("An emergency change names the incident it answers.", field="incident")
    action = ActionKind(kind)
    clean = actions.validate_parameters(action, target, parameters)
    run = ActionRun(
        kind=action,
        target=target,
        environment=actions.environment_of(action, target, clean),
        parameters=clean,
        reason=reason.strip(),
        incident=incident,
        emergency=emergency,
        requested_by=requester,
        command=actions.command_for(action, target, clean),
    )
    if refused := policy.request_refusal(run, user=requester, at=now, freeze=freeze):
        raise ForbiddenError(refused.message, field=refused.field)
    _take_secret(run, secret_value, required=confirm)
    # Reading the cluster happens here, outside any transaction, so a slow API server holds no lock.
    run.expectation = runner.preview(run)
    with transaction.atomic():
        run.save()
        if confirm:
            _submit(run, actor=requester, now=now, freeze=freeze)
    return run


def action_run_confirm(
    *,
    run: ActionRun,
    actor: User,
    secret_value: str = "",
    now: datetime | None = None,
    freeze: policy.FreezeLookup | None = None,
) -> ActionRun:
    """The requester read what will happen and confirms (typing a secret's value now, if it has one): the run goes to
    approval, or to the queue."""
    now = now or timezone.now()
    with transaction.atomic():
        run = _lock(run.pk)
        if run.status != Status.REQUESTED:
            raise ConflictError(f"{run.reference} is {run.get_status_display().lower()}; only a request is confirmed.")
        if actor.pk != run.requested_by_id:
            raise ForbiddenError("Only the person who requested it confirms it.", field="actor")
        if now >= run.created_at + timedelta(seconds=settings.ACTION_CONFIRM_WINDOW_SECONDS):
            raise ConflictError(
                f"{run.reference} was previewed more than {settings.ACTION_CONFIRM_WINDOW_SECONDS // 60} min ago "
                "and the target may have changed since; request it again."
            )
        if refused := policy.request_refusal(run, user=actor, at=now, freeze=freeze):
            raise ForbiddenError(refused.message, field=refused.field)
        _take_secret(run, secret_value, required=True)
        _submit(run, actor=actor, now=now, freeze=freeze)
    return run


def _decide(run: ActionRun, *, approver: User, now: datetime, decision: str, comment: str) -> ActionRun:
    run = _lock(run.pk)
    if run.status != Status.AWAITING_APPROVAL:
        raise ConflictError(f"{run.reference} is {run.get_status_display().lower()}, not awaiting approval.")
    if refused := policy.approval_refusal(approver=approver, run=run, at=now):
        raise ForbiddenError(refused, field="approver")
    try:
        with transaction.atomic():
            ActionApproval.objects.create(
                run=run, approver=approver, decision=decision, comment=comment.strip(), decided_at=now
            )
    except IntegrityError as exc:
        raise ConflictError(f"You already decided on {run.reference}.", field="approver") from exc
    return run


def action_run_approve(*, run: ActionRun, approver: User, comment: str = "", now: datetime | None = None) -> ActionRun:
    now = now or timezone.now()
    with transaction.atomic():
        run = _decide(run, approver=approver, now=now, decision=ActionApproval.Decision.APPROVED, comment=comment)
        if policy.approval_missing(run) is None:
            _queue(run, now=now)
            run.save()
        _timeline(
            run,
            f"approved by {approver.get_username()}{f' ({comment.strip()})' if comment.strip() else ''}",
            actor=approver,
            at=now,
        )
    return run


def action_run_reject(*, run: ActionRun, approver: User, comment: str, now: datetime | None = None) -> ActionRun:
    now = now or timezone.now()
    if not comment.strip():
        raise ApplicationError("Say why you reject it.", field="comment")
    with transaction.atomic():
        run = _decide(run, approver=approver, now=now, decision=ActionApproval.Decision.REJECTED, comment=comment)
        _finish(
            run,
            Status.REJECTED,
            error=f"Rejected by {approver.get_username()}: {comment.strip()}",
            now=now,
            actor=approver,
        )
    return run


def action_run_cancel(*, run: ActionRun, actor: User, now: datetime | None = None) -> ActionRun:
    """Withdraw a run before it starts (its requester, or an Incident Commander). A queued run's message may still
    reach a worker; the worker then finds it cancelled and does nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        run = _lock(run.pk)
        if actor.pk != run.requested_by_id and not has_role(actor, Role.INCIDENT_COMMANDER):
            raise ForbiddenError("Only its requester or an Incident Commander cancels a run.", field="actor")
        if run.status == Status.RUNNING:
            raise ConflictError(f"{run.reference} is already running and cannot be stopped safely part-way.")
        if run.status not in CANCELLABLE:
            raise ConflictError(f"{run.reference} is {run.get_status_display().lower()}; there is nothing to cancel.")
        _finish(run, Status.CANCELLED, error=f"Cancelled by {actor.get_username()}.", now=now, actor=actor)
    return run


def action_run_resolve(
    *, run: ActionRun, actor: User, outcome: str, note: str, now: datetime | None = None
) -> ActionRun:
    """An Incident Commander checked the target of an abandoned run and records what they found: succeeded, failed
    or partly done, with a note. Only the record changes; nothing is run (again)."""
    now = now or timezone.now()
    if outcome not in RESOLUTIONS:
        allowed = ", ".join(status.value for status in RESOLUTIONS)
        raise ApplicationError(f"Outcome: one of {allowed}.", field="outcome")
    if not note.strip():
        raise ApplicationError("Say what you found on the target: the note goes on the record.", field="note")
    with transaction.atomic():
        run = _lock(run.pk)
        if not has_role(actor, Role.INCIDENT_COMMANDER):
            raise ForbiddenError("Closing an abandoned run needs the Incident Commander role.", field="actor")
        if run.status != Status.ABANDONED:
            raise ConflictError(
                f"{run.reference} is {run.get_status_display().lower()}; only an abandoned run is closed by a person."
            )
        run.status = outcome
        run.resolved_by, run.resolved_at, run.resolution_note = actor, now, note.strip()
        run.save()
        found = f"{ActionRun.Status(outcome).label.lower()} (checked by {actor.get_username()}): {note.strip()}"
        _line(run, f"closed by a person: {found}", at=now)
        _timeline(run, f"abandoned run closed as {found}", actor=actor, at=now)
    return run


# -- the worker's side -----------------------------------------------------------------------------------------------


def action_run_start(
    *, run_id: int, worker: str, now: datetime | None = None, freeze: policy.FreezeLookup | None = None
) -> ActionRun | None:
    """Claim a queued run for this worker (queued -> running, once). None: not ours to run (already taken,
    cancelled, a duplicate message) or refused now, as recorded on the run."""
    now = now or timezone.now()
    with transaction.atomic():
        try:
            run = _lock(run_id)
        except ActionRun.DoesNotExist:
            return None
        if run.status != Status.QUEUED:
            logger.info("%s is %s: this message has nothing to do", run.reference, run.status)
            return None
        queued_at = run.queued_at or now  # always set when a run is queued
        deadline = queued_at + timedelta(seconds=settings.ACTION_START_DEADLINE_SECONDS)
        if now >= deadline:
            error = f"No worker started it by {deadline:%H:%M:%S} UTC; request it again if it is still wanted."
            _finish(run, Status.TIMED_OUT, error=error, now=now, actor=None)
            return None
        if refused := _refused_at_start(run, now=now, freeze=freeze):
            _finish(run, Status.REJECTED, error=f"Refused when starting: {refused}", now=now, actor=None)
            return None
        run.status, run.started_at, run.heartbeat_at, run.worker = Status.RUNNING, now, now, worker[:200]
        # A secret's value leaves the database as the worker takes it: only this worker's memory holds it now.
        value, run.secret_value = run.secret_value, ""
        run.save()
        _list_freeze_pass(run, now=now, freeze=freeze)
        run.secret_value = value
        _line(run, f"started on {worker or 'a worker'}", at=now)
    return run


def _list_freeze_pass(run: ActionRun, *, now: datetime, freeze: policy.FreezeLookup | None) -> None:
    """A production change that got through a freeze goes on the freeze page's list of passes."""
    status, passed = policy.freeze_pass(run, at=now, freeze=freeze)
    if status is None or passed is None:
        return
    approver = policy.second_person(run) if passed == Pass.APPROVED_EMERGENCY else None
    verdict = replace(
        status, passed_by=passed.value, incident_id=run.incident_id, approved_by_id=approver.pk if approver else None
    )
    freeze_pass_record(
        verdict=verdict, environment=run.environment, subject=FreezePass.Subject.CLUSTER_ACTION,
        description=f"{run.reference}: {run.get_kind_display()} on {run.target}",
        link=reverse("action-detail", args=[run.pk]), actor=run.requested_by, at=now,
    )  # fmt: skip


def _refused_at_start(run: ActionRun, *, now: datetime, freeze: policy.FreezeLookup | None) -> str | None:
    """The target's configuration, the requester's role and approvals, and freezes may all have changed."""
    try:
        actions.validate_parameters(ActionKind(run.kind), run.target, run.parameters)
    except ApplicationError as exc:
        return f"it is no longer valid for {run.target}: {exc.message}"
    if not run.target.enabled:
        return f"{run.target} has been disabled."
    environment = actions.environment_of(ActionKind(run.kind), run.target, run.parameters)
    if environment != run.environment:
        return f"the target is now {environment.label.lower()}, not {run.environment}; request it again."
    return policy.start_refusal(run, at=now, freeze=freeze)


def action_run_progress(*, run: ActionRun, message: str, now: datetime | None = None) -> None:
    _line(run, message, at=now or timezone.now())


def action_run_heartbeat(*, run_id: int, now: datetime | None = None) -> bool:
    """Tell the reaper the worker is still on it; False once the run is no longer running."""
    with transaction.atomic():
        run = ActionRun.objects.select_for_update().filter(pk=run_id, status=Status.RUNNING).first()
        if run is None:
            return False
        run.heartbeat_at = now or timezone.now()
        run.save(update_fields=["heartbeat_at"])
    return True


@contextmanager
def _heartbeat(run_id: int) -> Iterator[None]:
    """Beat every ACTION_HEARTBEAT_SECONDS from a thread while the action runs (a watch or a drain may be silent for
    minutes); the beats stop when the worker process dies, which is what the reaper looks for."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.ACTION_HEARTBEAT_SECONDS):
                action_run_heartbeat(run_id=run_id)
        except Exception:  # a missed beat must never break the action; the reaper allows for several
            logger.exception("Heartbeat of action run %s failed", run_id)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"action-run-{run_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def action_run_finish(
    *, run_id: int, status: str, outcome: runner.Outcome | None, error: str = "", now: datetime | None = None
) -> ActionRun:
    now = now or timezone.now()
    with transaction.atomic():
        run = _lock(run_id)
        if run.status not in (Status.RUNNING, Status.ABANDONED):
            raise ConflictError(f"{run.reference} is {run.status}; its worker's outcome arrived too late to record.")
        if run.status == Status.ABANDONED:
            # The reaper gave up on a worker that was only slow: the outcome is known after all.
            _line(run, "the worker reported back after the run had been marked abandoned", at=now)
        if outcome is not None:
            run.before, run.after, run.result = outcome.before, outcome.after, outcome.result
        summary = outcome.summary if outcome is not None else error
        _line(run, f"{ActionRun.Status(status).label.lower()}: {summary}", at=now)
        run.status, run.error, run.finished_at = status, error, now
        run.save()
        _timeline(run, f"{run.get_status_display().lower()}: {summary}", actor=run.requested_by, at=now)
        notify(
            event=EventKind.CLUSTER_ACTION,
            severity=NotificationSeverity.INFO if status == Status.SUCCEEDED else NotificationSeverity.WARNING,
            title=f"{run.reference} {run.get_kind_display()} on {run.target} ({run.environment}): "
            f"{run.get_status_display().lower()}",
            summary=f"Requested by {run.requested_by} because: {run.reason}\n\n{summary}",
            url=settings.PORTAL_BASE_URL + reverse("action-detail", args=[run.pk]),
            source=f"action:{run.pk}",
            created_by=run.requested_by,
            now=now,
        )
    return run


def action_run_execute(*, run_id: int, worker: str = "", freeze: policy.FreezeLookup | None = None) -> ActionRun | None:
    """Claim the run, carry it out with progress lines and a heartbeat, and record the outcome. A no-op for a run
    that is not queued, so a redelivered message runs nothing twice."""
    run = action_run_start(run_id=run_id, worker=worker, freeze=freeze)
    if run is None:
        return None
    outcome, error, status = None, "", Status.SUCCEEDED
    try:
        with _heartbeat(run.pk):
            outcome = runner.execute(
                run, report=lambda message: action_run_progress(run=run, message=message), now=timezone.now()
            )
    except (kube.RolloutTimeout, kube.DrainTimeout) as exc:
        status, error = Status.TIMED_OUT, exc.message
    except SoftTimeLimitExceeded:
        status, error = Status.TIMED_OUT, "The worker's time limit for an action passed; the action was stopped."
    except kube.KubeError as exc:
        status, error = Status.FAILED, exc.message
    except DataStoreError as exc:
        status, error = Status.FAILED, str(exc)
    except Exception as exc:
        logger.exception("%s failed unexpectedly", run.reference)
        status, error = Status.FAILED, scrub(f"Unexpected error: {type(exc).__name__}: {exc}", run.target.url)
    return action_run_finish(run_id=run.pk, status=status, outcome=outcome, error=error)


# -- sweeping ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    requeued: int = 0
    expired: int = 0
    abandoned: int = 0


def _overdue(status: str, **filters: object) -> list[ActionRun]:
    # skip_locked: a run a worker or person holds right now is theirs; the next sweep looks again.
    return list(
        ActionRun.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("target", "requested_by", "incident__severity")
        .filter(status=status, **filters)
        .order_by("pk")
    )


def action_runs_sweep(*, now: datetime | None = None) -> Sweep:
    """Resend queued runs the broker may have lost, and end what waited too long: unconfirmed requests, requests
    nobody approved in time, queued runs no worker started."""
    now = now or timezone.now()
    expired = 0
    with transaction.atomic():
        window = timedelta(seconds=settings.ACTION_CONFIRM_WINDOW_SECONDS)
        for run in _overdue(Status.REQUESTED, created_at__lte=now - window):
            _finish(run, Status.CANCELLED, error="Not confirmed in time.", now=now, actor=None)
            expired += 1
        for run in _overdue(Status.AWAITING_APPROVAL, approval_expires_at__lte=now):
            _finish(run, Status.TIMED_OUT, error="Nobody approved it in time.", now=now, actor=None)
            expired += 1
        start = timedelta(seconds=settings.ACTION_START_DEADLINE_SECONDS)
        for run in _overdue(Status.QUEUED, queued_at__lte=now - start):
            _finish(run, Status.TIMED_OUT, error="No worker started it in time.", now=now, actor=None)
            expired += 1
        stuck = timedelta(seconds=settings.ACTION_STUCK_AFTER_SECONDS)
        requeued = _overdue(Status.QUEUED, enqueued_at__lte=now - stuck)
        for run in requeued:
            _enqueue_on_commit(run, now=now)
            run.save(update_fields=["enqueued_at"])
    return Sweep(requeued=len(requeued), expired=expired)


def action_runs_reap(*, now: datetime | None = None) -> Sweep:
    """Mark running runs whose worker stopped beating as abandoned. Their outcome is unknown, so they are never run
    again on their own: a person checks the target and, if needed, requests the action again."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.ACTION_STALE_AFTER_SECONDS)
    with transaction.atomic():
        runs = _overdue(Status.RUNNING, heartbeat_at__lte=stale)
        for run in runs:
            error = (
                f"The worker {run.worker or ''} stopped reporting at {run.heartbeat_at:%H:%M:%S} UTC (killed or lost) "
                "while the action ran: its outcome is unknown. Check the target before requesting it again."
            )
            _line(run, "abandoned: no heartbeat from the worker", at=now)
            _finish(run, Status.ABANDONED, error=error, now=now, actor=None)
    return Sweep(abandoned=len(runs))


# -- looks -------------------------------------------------------------------------------------------------------


def look_request(
    *,
    requester: User,
    target: Target,
    kind: str,
    parameters: Mapping[str, object],
    incident: Incident | None = None,
    now: datetime | None = None,
) -> Look:
    """Record a look and hand it to a worker when the transaction commits. Responders may look anywhere: it
    changes nothing."""
    now = now or timezone.now()
    if kind not in LookKind.values:
        raise ApplicationError(f"Unknown look {kind!r}.", field="kind")
    if not has_role(requester, Role.RESPONDER):
        raise ForbiddenError("Looking at a target needs the Responder role.", field="kind")
    if not target.enabled:
        raise ApplicationError(f"{target} is disabled.", field="target")
    look_kind = LookKind(kind)
    clean = looks.validate(look_kind, target, parameters)
    with transaction.atomic():
        look = Look.objects.create(
            kind=look_kind,
            target=target,
            parameters=clean,
            incident=incident,
            requested_by=requester,
            command=looks.command_for(look_kind, target, clean),
            created_at=now,
        )
        _fetch_on_commit(look.pk)
    return look


def _fetch_on_commit(look_id: int) -> None:
    from portal.cluster.tasks import fetch_look

    transaction.on_commit(lambda: fetch_look.apply_async((look_id,)), robust=True)


def _look_finish(look: Look, *, status: str, found: looks.Found | None, error: str, now: datetime) -> None:
    if found is not None:
        look.summary, look.columns, look.rows = found.summary[:300], found.columns, found.rows
        look.text, look.truncated = found.text, found.truncated
        if found.selector and not look.parameters.get("selector"):
            # The deployment's own selector, now known: the command shown is the one that reads the same pods.
            resolved = {**look.parameters, "selector": found.selector}
            look.command = looks.command_for(LookKind(look.kind), look.target, resolved)
    look.status, look.error, look.finished_at, look.progress = status, error, now, ""
    look.save()
    if look.incident is not None:
        what = looks.subject(LookKind(look.kind), look.target, look.parameters)
        outcome = look.summary if status == Look.Status.DONE else f"failed: {error}"
        timeline_add(
            incident=look.incident,
            kind=TimelineEvent.Kind.LOOK,
            message=f"{look.requested_by.get_username()} looked at {what}: {outcome}"[:2000],
            actor=look.requested_by,
            at=now,
            data={"look": look.pk, "kind": look.kind},
        )


def _lock_look(look_id: int) -> Look:
    return lock_row(Look.objects.select_related("target", "requested_by", "incident"), look_id)


def look_fetch(*, look_id: int, now: datetime | None = None) -> Look | None:
    """The worker's side: claim the queued look once, fetch it under its deadline with progress, record what was
    found and put it on the incident's timeline. None: nothing to do (already taken, or too late to start)."""
    now = now or timezone.now()
    with transaction.atomic():
        try:
            look = _lock_look(look_id)
        except Look.DoesNotExist:
            return None
        if look.status != Look.Status.QUEUED:
            return None
        if now >= look.created_at + timedelta(seconds=settings.LOOK_START_DEADLINE_SECONDS):
            _look_finish(look, status=Look.Status.FAILED, found=None, error="No worker picked it up in time.", now=now)
            return None
        look.status, look.started_at = Look.Status.RUNNING, now
        look.save(update_fields=["status", "started_at"])

    def report(message: str) -> None:
        # Look is not audited: a plain UPDATE is the cheapest way to show progress while the worker fetches.
        Look.objects.filter(pk=look_id).update(progress=message[:300])

    found, error, status = None, "", Look.Status.DONE
    try:
        found = looks.fetch(LookKind(look.kind), look.target, look.parameters, report=report)
    except looks.LookTimeout as exc:
        found = exc.found
        error = f"The {settings.LOOK_DEADLINE_SECONDS:g} s deadline passed: what was fetched by then is shown."
    except SoftTimeLimitExceeded:
        status, error = Look.Status.FAILED, "The worker's time limit for a look passed."
    except kube.KubeError as exc:
        status, error = Look.Status.FAILED, exc.message
    except DataStoreError as exc:
        status, error = Look.Status.FAILED, str(exc)
    except Exception as exc:
        logger.exception("LOOK-%s failed unexpectedly", look_id)
        status, error = Look.Status.FAILED, scrub(f"Unexpected error: {type(exc).__name__}: {exc}", look.target.url)
    with transaction.atomic():
        look = _lock_look(look_id)
        _look_finish(look, status=status, found=found, error=error, now=timezone.now())
    return look


def looks_sweep(*, now: datetime | None = None) -> int:
    """End looks no worker picked up in time, and those whose worker died while fetching."""
    now = now or timezone.now()
    start = timedelta(seconds=settings.LOOK_START_DEADLINE_SECONDS)
    # A running look outlives its deadline only if its worker died: the task's hard limit is well below this.
    dead = timedelta(seconds=settings.LOOK_DEADLINE_SECONDS * 2 + 120)
    ended = 0
    with transaction.atomic():
        stale = (
            Look.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("target", "requested_by", "incident")
            .filter(
                Q(status=Look.Status.QUEUED, created_at__lte=now - start)
                | Q(status=Look.Status.RUNNING, started_at__lte=now - dead)
            )
        )
        for look in stale:
            error = "No worker picked it up in time." if look.status == Look.Status.QUEUED else "Its worker stopped."
            _look_finish(look, status=Look.Status.FAILED, found=None, error=error, now=now)
            ended += 1
    return ended
