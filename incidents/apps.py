from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from incidents.models import Service

        auditlog.register(Service)
