from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """SLOs and error budgets, runbooks, the deployments log, DR and backups, recurring operations checklists."""

    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from operations.models import (
            AlertRule,
            BackupSchedule,
            BackupVerification,
            BurnAlert,
            BurnRateRule,
            Checklist,
            ChecklistItem,
            ChecklistTemplate,
            Deployment,
            DrillPlan,
            DrillRecord,
            Procedure,
            ProcedureRun,
            ProcedureRunStep,
            ProcedureStep,
            QuickAction,
            RecoveryObjective,
            Runbook,
            RunbookAlert,
            Slo,
        )

        # Fetch bookkeeping changes every minute; what an Admin configured is what the log is for.
        auditlog.register(Slo, exclude_fields=["last_fetched_at", "last_fetch_error", "updated_at"])
        auditlog.register(BurnRateRule)
        auditlog.register(RecoveryObjective)
        auditlog.register(Runbook, exclude_fields=["updated_at"])
        auditlog.register(RunbookAlert)
        auditlog.register(QuickAction)
        auditlog.register(Deployment, exclude_fields=["updated_at"])
        auditlog.register(BackupSchedule)
        auditlog.register(BackupVerification)
        auditlog.register(DrillPlan)
        auditlog.register(DrillRecord)
        auditlog.register(ChecklistTemplate)
        auditlog.register(Checklist)
        auditlog.register(ChecklistItem)
        auditlog.register(AlertRule)
        auditlog.register(Procedure)
        auditlog.register(ProcedureStep)
        auditlog.register(ProcedureRun)
        auditlog.register(ProcedureRunStep)
        # SLI samples and burn-alert episodes are machine data (like alerts): not audited.

        from contacts.models import Team
        from incidents.models import Service, Severity
        from operations.selectors.alerting import CATALOGUE
        from operations.selectors.dashboard import OPERATIONS_SUMMARY
        from portal.accounts.models import User

        CATALOGUE.invalidate_on_change(AlertRule, Team, Severity, Runbook, RunbookAlert, QuickAction)
        OPERATIONS_SUMMARY.invalidate_on_change(
            Deployment, Service, User, Checklist, ChecklistItem, ChecklistTemplate, BackupVerification, BurnAlert, Slo,
            BurnRateRule,
        )  # fmt: skip
