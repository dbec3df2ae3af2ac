"""The operations models, one file per part of the seeds: SLOs, runbooks, deployments, recovery, checklists."""

from operations.models.alerting import AlertRule
from operations.models.checklists import Checklist, ChecklistItem, ChecklistTemplate
from operations.models.deployments import Deployment
from operations.models.procedures import Procedure, ProcedureRun, ProcedureRunStep, ProcedureStep
from operations.models.recovery import (
    BackupSchedule,
    BackupVerification,
    DrillPlan,
    DrillRecord,
    Priority,
    RecoveryObjective,
)
from operations.models.runbooks import QuickAction, Runbook, RunbookAlert
from operations.models.slo import BurnAlert, BurnRateRule, SliSample, Slo, SloBreach

__all__ = [
    "AlertRule",
    "BackupSchedule",
    "BackupVerification",
    "BurnAlert",
    "BurnRateRule",
    "Checklist",
    "ChecklistItem",
    "ChecklistTemplate",
    "Deployment",
    "DrillPlan",
    "DrillRecord",
    "Priority",
    "Procedure",
    "ProcedureRun",
    "ProcedureRunStep",
    "ProcedureStep",
    "QuickAction",
    "RecoveryObjective",
    "Runbook",
    "RunbookAlert",
    "SliSample",
    "Slo",
    "SloBreach",
]
