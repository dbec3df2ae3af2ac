from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class CoreConfig(AppConfig):
    name = "portal.core"
    label = "core"
    verbose_name = "Portal core"

    def ready(self) -> None:
        from auditlog.models import LogEntry
        from django.db.models.signals import post_save

        from portal.core.audit import seal_log_entry

        post_save.connect(seal_log_entry, sender=LogEntry, dispatch_uid="portal.core.seal_log_entry")

        from incidents.models import Incident, Service, Severity
        from maintenance.models import MaintenanceOccurrence, MaintenanceWindow
        from portal.accounts.models import User
        from portal.core.attention import DASHBOARD_MAINTENANCE, DASHBOARD_NEEDS

        DASHBOARD_MAINTENANCE.invalidate_on_change(MaintenanceWindow, MaintenanceOccurrence, Service, User)
        DASHBOARD_NEEDS.invalidate_on_change(Incident, Severity, User, m2m=False)  # it shows no services or groups
        # The filesystem broker (the zero-setup default) needs its folders before the first publish or poll,
        # in the web process, the worker and beat alike.
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            if key in options:
                Path(str(options[key])).mkdir(parents=True, exist_ok=True)
