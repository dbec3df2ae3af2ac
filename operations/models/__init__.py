"""The operations models, one file per part of the seeds: SLOs, runbooks, deployments, recovery, checklists."""

from operations.models.checklists import Checklist, ChecklistItem, ChecklistTemplate
from operations.models.deployments import Deployment
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
    "QuickAction",
    "RecoveryObjective",
    "Runbook",
    "RunbookAlert",
    "SliSample",
    "Slo",
    "SloBreach",
]
