from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "maintenance"
    verbose_name = "Maintenance and freezes"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from maintenance.models import (
            ChecklistItem,
            FreezeException,
            FreezePass,
            FreezeRule,
            MaintenanceOccurrence,
            MaintenanceWindow,
        )

        auditlog.register(MaintenanceWindow, m2m_fields={"services"})
        # The history says what happened in words; the audit log keeps every field change with its actor.
        auditlog.register(MaintenanceOccurrence)
        auditlog.register(ChecklistItem)
        auditlog.register(FreezeRule)
        auditlog.register(FreezeException)
        auditlog.register(FreezePass)

        from incidents.models import Incident, Service, Severity, StatusUpdate
        from maintenance.policy import FREEZE_RULES
        from maintenance.selectors import STATUS_PAGE

        FREEZE_RULES.invalidate_on_change(FreezeRule)
        STATUS_PAGE.invalidate_on_change(
            Incident, StatusUpdate, Service, Severity, MaintenanceWindow, MaintenanceOccurrence
        )
