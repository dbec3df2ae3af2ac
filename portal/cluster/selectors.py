from django.db.models import Prefetch, QuerySet

from incidents.models import Incident
from portal.cluster.models import ActionApproval, ActionRun, Look, Target, Workload


def action_runs() -> QuerySet[ActionRun]:
    """Runs, newest first, with what list pages and the API show."""
    return ActionRun.objects.select_related("target", "requested_by", "resolved_by", "incident__severity").order_by(
        "-created_at", "-pk"
    )


def action_run_detail() -> QuerySet[ActionRun]:
    return action_runs().prefetch_related(
        Prefetch("approvals", queryset=ActionApproval.objects.select_related("approver")),
        "lines",
        "target__namespaces",
    )


def targets() -> QuerySet[Target]:
    return Target.objects.prefetch_related("namespaces").order_by("name")


def workloads_of(incident: Incident) -> QuerySet[Workload]:
    """What the incident's services run on: where its quick actions point."""
    return (
        Workload.objects.filter(service__in=incident.services.all(), target__enabled=True)
        .select_related("service", "target", "namespace")
        .order_by("service__name", "target__kind", "target__name", "namespace__name", "deployment")
    )


def looks_list() -> QuerySet[Look]:
    return Look.objects.select_related("target", "requested_by", "incident").order_by("-created_at", "-pk")
