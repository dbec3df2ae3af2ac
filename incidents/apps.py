from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from incidents.models import (
            ActionItem,
            EscalationLevel,
            EscalationPolicy,
            Incident,
            Integration,
            PostIncidentReview,
            Service,
            Severity,
            StatusUpdate,
            SuppressionRule,
        )

        auditlog.register(Service)
        auditlog.register(Severity)
        # Timers and the version move on every change; the timeline and the fields that matter say what happened.
        auditlog.register(
            Incident,
            exclude_fields=[
                "ack_due_at",
                "update_due_at",
                "resolution_due_at",
                "version",
                "updated_at",
                "escalation_snapshot",
                # Reverse one-to-ones: reading them costs a query per save and they never change with the incident.
                "review",
                "alert_group",
            ],  # fmt: skip
            m2m_fields={"services"},
        )
        auditlog.register(StatusUpdate)
        auditlog.register(PostIncidentReview, exclude_fields=["timeline_snapshot", "version"])
        auditlog.register(ActionItem)
        auditlog.register(EscalationPolicy)
        auditlog.register(EscalationLevel, m2m_fields={"users"})
        # Alerts are machine data and stay out of the log; who configured the intake, and how, is in it.
        auditlog.register(Integration, exclude_fields=["token_hash", "last_used_at"])
        auditlog.register(SuppressionRule)

        from portal.core.filters import FILTER_FORMS

        FILTER_FORMS.invalidate_on_change(Severity, Service)  # the incident filters' options

        from incidents.selectors import SERVICES

        SERVICES.invalidate_on_change(Service)
