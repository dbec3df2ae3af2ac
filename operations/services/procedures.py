"""Procedures run step by step: for an incident, or as a DR drill measured against the RTO.

Steps are done in order, each by someone at some time. A step's effect acts in the portal when the step is done for
an incident (opening the P1, notifying, posting the status update, opening the review), in the transaction that
records it; a drill records the step and leaves the effect out, so rehearsing a regional failover pages nobody.
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, Severity
from incidents.services import incident_declare, incident_post_update, incident_update_details, review_for
from maintenance.models import MaintenanceOccurrence
from operations.models import DrillPlan, Procedure, ProcedureRun, ProcedureRunStep, ProcedureStep
from portal.accounts.models import User
from portal.errors import ApplicationError, ConflictError
from portal.locking import lock_row
from portal.notifications.models import Channel, EventKind
from portal.notifications.models import Severity as NotificationSeverity
from portal.notifications.services import notify

Effect = ProcedureStep.Effect
INCIDENTS_CHANNEL = "#incidents"  # the manual's emergency maintenance: 'Post in #incidents channel'


def procedure_run_start(
    *,
    procedure: Procedure,
    kind: str,
    actor: User,
    incident: Incident | None = None,
    drill_plan: DrillPlan | None = None,
    maintenance: MaintenanceOccurrence | None = None,
    notes: str = "",
    now: datetime | None = None,
) -> ProcedureRun:
    """Start a run with a copy of the procedure's steps. An incident run names its incident, unless a step opens one,
    and the maintenance it is run for, if any; a drill names neither and is judged against the drill plan's RTO, else
    the procedure's."""
    now = now or timezone.now()
    if kind not in ProcedureRun.Kind.values:
        raise ApplicationError(f"A run is one of {', '.join(ProcedureRun.Kind.values)}.", field="kind")
    if not procedure.active:
        raise ApplicationError(f"{procedure.name} is retired.", field="procedure")
    steps = list(procedure.steps.all())
    if not steps:
        raise ApplicationError(f"{procedure.name} has no steps.", field="procedure")
    if kind == ProcedureRun.Kind.DRILL:
        if incident is not None:
            raise ApplicationError("A drill is not run for an incident.", field="incident")
        if maintenance is not None:
            raise ApplicationError("A drill is not run for maintenance.", field="maintenance")
    else:
        if drill_plan is not None:
            raise ApplicationError("Only a drill follows a drill plan.", field="drill_plan")
        if incident is None and not any(step.effect == Effect.DECLARE_P1 for step in steps):
            raise ApplicationError(f"Name the incident {procedure.name} is run for.", field="incident")
        if incident is not None and not incident.is_open:
            raise ApplicationError(f"{incident.reference} is {incident.get_status_display().lower()}.",
                                   field="incident")  # fmt: skip
    objective = (drill_plan.objective if drill_plan else None) or procedure.objective
    with transaction.atomic():
        run = ProcedureRun.objects.create(
            procedure=procedure, kind=kind, incident=incident, drill_plan=drill_plan, maintenance=maintenance,
            started_at=now, started_by=actor, notes=notes,
            target_rto_minutes=objective.rto_minutes if objective else None,
            max_rto_minutes=objective.rto_max_minutes if objective else None,
        )  # fmt: skip
        ProcedureRunStep.objects.bulk_create(
            ProcedureRunStep(run=run, position=step.position, text=step.text, effect=step.effect) for step in steps
        )
    return run


def procedure_step_done(
    *, run: ProcedureRun, position: int, actor: User, note: str = "", now: datetime | None = None
) -> ProcedureRunStep:
    """Record the next step as done by `actor` at `now`, and carry out its effect; the last step completes the run."""
    now = now or timezone.now()
    with transaction.atomic():
        run = lock_row(ProcedureRun.objects.select_related("procedure", "incident"), run.pk)
        if run.status != ProcedureRun.Status.RUNNING:
            raise ConflictError(f"The run is {run.get_status_display().lower()}.")
        pending = list(run.steps.filter(done_at__isnull=True).order_by("position"))
        if not pending or pending[0].position != position:
            step = run.steps.filter(position=position).first()
            if step is None:
                raise ApplicationError(f"The run has no step {position + 1}.", field="position")
            if step.done_at is not None:
                raise ConflictError(f"Step {position + 1} was done at {step.done_at:%Y-%m-%d %H:%M} UTC.")
            raise ConflictError(f"Do step {pending[0].position + 1} first: {pending[0].text}.")
        step = pending[0]
        step.done_at, step.done_by, step.note = now, actor, note.strip()[:500]
        step.outcome = _effect(run, step, actor=actor, now=now)
        step.save(update_fields=["done_at", "done_by", "note", "outcome"])
        if len(pending) == 1:
            run.status, run.finished_at = ProcedureRun.Status.COMPLETED, now
            run.save(update_fields=["status", "finished_at", "incident"])
    return step


def procedure_run_abandon(*, run: ProcedureRun, actor: User, reason: str, now: datetime | None = None) -> ProcedureRun:
    now = now or timezone.now()
    if not reason.strip():
        raise ApplicationError("Say why the run stops here.", field="reason")
    with transaction.atomic():
        run = lock_row(ProcedureRun.objects.all(), run.pk)
        if run.status != ProcedureRun.Status.RUNNING:
            raise ConflictError(f"The run is {run.get_status_display().lower()}.")
        run.status, run.finished_at = ProcedureRun.Status.ABANDONED, now
        run.notes = f"{run.notes}\n\nAbandoned by {actor}: {reason.strip()}".strip()
        run.save(update_fields=["status", "finished_at", "notes"])
    return run


def _run_url(run: ProcedureRun) -> str:
    return settings.PORTAL_BASE_URL + reverse("procedure-run-detail", args=[run.pk])


def _effect(run: ProcedureRun, step: ProcedureRunStep, *, actor: User, now: datetime) -> str:
    """Carry out a step's effect for an incident run; say what it did."""
    if not step.effect:
        return ""
    if run.kind == ProcedureRun.Kind.DRILL:
        return "Drill: not carried out."
    procedure = run.procedure
    if step.effect == Effect.DECLARE_P1:
        if run.incident is not None:
            return f"{run.incident.reference} is already open for this run."
        # A disaster is public from the start: /status/ says so while the failover runs.
        run.incident = incident_declare(
            title=f"Disaster event: {procedure.name}", severity=Severity.objects.get(code="P1"), reporter=actor,
            commander=actor, flags=[Incident.Flag.SERVICE_DOWN], is_public=True,
            impact_summary=f"Declared by step {step.position + 1} of {procedure.name}.", now=now,
        )  # fmt: skip
        run.save(update_fields=["incident"])
        incident_post_update(
            incident=run.incident, label="investigating", actor=actor, now=now, is_public=True,
            impact="Our services are unavailable.",
            description="We are investigating a major outage and are moving our services to our disaster-recovery "
            "site.",
        )  # fmt: skip
        return f"Opened {run.incident.reference} ({run.incident.severity.code}) and posted it on the status page."
    incident = run.incident
    if incident is None:
        raise ApplicationError("This step acts on the run's incident, and the run has none.", field="position")
    if step.effect in {Effect.NOTIFY_ONCALL_LEAD, Effect.NOTIFY_INCIDENTS}:
        lead, channels = None, None
        if step.effect == Effect.NOTIFY_ONCALL_LEAD:
            lead = _oncall_lead(incident)
            if lead is None:
                raise ConflictError("No rotation covering the incident's services has a lead to notify.")
        else:
            # The step names its channel: routing would send an incident update to the severity's channels instead.
            channels = list(
                Channel.objects.filter(kind=Channel.Kind.CHAT, chat_channel=INCIDENTS_CHANNEL, enabled=True)
            )
            if not channels:
                return f"No enabled chat channel posts to {INCIDENTS_CHANNEL}: post there by hand."
        notify(
            event=EventKind.INCIDENT_UPDATED, severity=NotificationSeverity(incident.severity.notification_severity),
            title=f"{incident.reference}: {procedure.name} under way", url=_run_url(run),
            summary=f"{actor} is running {procedure.name} for {incident.reference} ({incident.title}): {step.text}.",
            services=incident.services.all(), recipients=[lead] if lead else [], channels=channels,
            source=f"procedure-run:{run.pk}", dedup_key=f"procedure-run:{run.pk}:{step.position}", created_by=actor,
            now=now,
        )  # fmt: skip
        return f"Notified {lead}." if lead else f"Posted to {INCIDENTS_CHANNEL}."
    if step.effect == Effect.STATUS_PAGE:
        # 'Update status page immediately': the public page, so the incident becomes public if it was internal.
        made_public = not incident.is_public
        if made_public:
            incident = incident_update_details(incident=incident, actor=actor, now=now, is_public=True)
        incident_post_update(
            incident=incident, label="identified", actor=actor, now=now, is_public=True,
            description=f"{procedure.name} is under way{_until(run)}; we will post updates as it progresses.",
        )  # fmt: skip
        posted = "Posted a status update on the status page."
        return f"Made the incident public. {posted}" if made_public else posted
    if step.effect == Effect.OPEN_REVIEW:
        review = review_for(incident=incident, now=now)
        return f"Review scheduled for {review.scheduled_for:%Y-%m-%d %H:%M} UTC."
    return ""


def _until(run: ProcedureRun) -> str:
    occurrence = run.maintenance
    return f" until {occurrence.ends_at:%Y-%m-%d %H:%M} UTC" if occurrence and occurrence.is_open else ""


def _oncall_lead(incident: Incident) -> User | None:
    """The lead of the first rotation (by name) covering one of the incident's services, else of any rotation."""
    from oncall.models import Rotation

    rotations = Rotation.objects.filter(archived_at__isnull=True, lead__isnull=False, lead__is_active=True)
    covering = rotations.filter(services__in=incident.services.all()).order_by("name").first()
    rotation = covering or rotations.order_by("name").first()
    return rotation.lead if rotation else None
