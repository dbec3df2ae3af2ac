"""Disaster recovery records: DR drills measured against their objective, and the daily backup verification."""

import math
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from operations import policy
from operations.models import BackupVerification, DrillPlan, DrillRecord, ProcedureRun, RecoveryObjective
from portal.accounts.models import User
from portal.errors import ApplicationError, ConflictError


def drill_record(
    *,
    performed_at: datetime | None = None,
    measured_rto_minutes: int | None = None,
    measured_rpo_minutes: int,
    actor: User | None,
    procedure_run: ProcedureRun | None = None,
    plan: DrillPlan | None = None,
    objective: RecoveryObjective | None = None,
    year: int | None = None,
    notes: str = "",
    now: datetime | None = None,
) -> DrillRecord:
    """Record a drill's measured RTO and RPO against its objective (the plan's, unless another is named); the
    objective's numbers are copied onto the record, so its verdict stays what it was. A drill that ran a procedure
    names the run: its start, its plan (else its procedure's objective) and its duration (the measured RTO) are the
    defaults."""
    now = now or timezone.now()
    if procedure_run is not None:
        if procedure_run.kind != ProcedureRun.Kind.DRILL or procedure_run.status != ProcedureRun.Status.COMPLETED:
            raise ApplicationError("Name a drill run whose steps are all done.", field="procedure_run")
        if DrillRecord.objects.filter(procedure_run=procedure_run).exists():
            raise ConflictError("That run is recorded already.", field="procedure_run")
        performed_at = performed_at or procedure_run.started_at
        plan = plan or procedure_run.drill_plan
        objective = objective or (plan.objective if plan else procedure_run.procedure.objective)
        if measured_rto_minutes is None:
            measured_rto_minutes = math.ceil(procedure_run.elapsed(now).total_seconds() / 60)
    if performed_at is None:
        raise ApplicationError("Say when the drill was run.", field="performed_at")
    if measured_rto_minutes is None:
        raise ApplicationError("Give the measured RTO, or the procedure run it is measured from.",
                               field="measured_rto_minutes")  # fmt: skip
    if performed_at > now:
        raise ApplicationError("Record a drill once it has been run.", field="performed_at")
    objective = objective or (plan.objective if plan else None)
    if objective is None:
        raise ApplicationError("Name the drill's plan or the recovery objective it is measured against.",
                               field="objective")  # fmt: skip
    try:
        with transaction.atomic():
            return DrillRecord.objects.create(
                plan=plan, objective=objective, year=year or performed_at.year, performed_at=performed_at,
                measured_rto_minutes=measured_rto_minutes, measured_rpo_minutes=measured_rpo_minutes,
                target_rto_minutes=objective.rto_minutes, max_rto_minutes=objective.rto_max_minutes,
                target_rpo_minutes=objective.rpo_minutes, max_rpo_minutes=objective.rpo_max_minutes,
                notes=notes, recorded_by=actor, procedure_run=procedure_run,
            )  # fmt: skip
    except IntegrityError as exc:  # the same run recorded at the same time by someone else
        raise ConflictError("That run is recorded already.", field="procedure_run") from exc


def backup_verification_record(
    *, day: date, result: str, actor: User | None, notes: str = "", now: datetime | None = None
) -> BackupVerification:
    """Record that `day`'s backups were checked (once per day)."""
    now = now or timezone.now()
    if day > policy.operations_day(now):
        raise ApplicationError(f"{day} has not come yet.", field="day")
    if result not in BackupVerification.Result.values:
        raise ApplicationError(f"Unknown result {result!r}.", field="result")
    if result == BackupVerification.Result.FAILED and not notes.strip():
        raise ApplicationError("Say what failed.", field="notes")
    try:
        with transaction.atomic():
            return BackupVerification.objects.create(
                day=day, result=result, notes=notes, verified_by=actor, verified_at=now
            )
    except IntegrityError as exc:
        raise ConflictError(f"The backups of {day} were already verified.", field="day") from exc
