from django.apps import AppConfig


class ClusterConfig(AppConfig):
    name = "portal.cluster"
    label = "cluster"
    verbose_name = "Cluster actions"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from portal.cluster.models import ActionApproval, ActionRun, Namespace, Target, Workload

        # The URL holds the data store's password: the log shows it masked, as the pages do.
        auditlog.register(Target, mask_fields=["url"], mask_callable="portal.cluster.secrets.mask_url")
        auditlog.register(Namespace)
        auditlog.register(Workload)
        # The heartbeat is liveness, not a change; progress lines have their own table.
        auditlog.register(ActionRun, exclude_fields=["heartbeat_at", "enqueued_at", "updated_at", "secret_value"])
        auditlog.register(ActionApproval)

        from portal.core.filters import FILTER_FORMS

        FILTER_FORMS.invalidate_on_change(Target)  # the action filters' options

        from incidents.models import Service
        from portal.cluster.selectors import WORKLOADS

        WORKLOADS.invalidate_on_change(Workload, Target, Namespace, Service)
