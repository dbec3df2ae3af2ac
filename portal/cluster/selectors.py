from django.core.cache import cache
from django.db.models import Prefetch, QuerySet

from incidents.models import Incident
from portal import kube
from portal.cluster import runner
from portal.cluster.models import ActionApproval, ActionRun, Look, Target, Workload

# How old a node picker's list may be: every redraw of the request form asks, and nodes come and go in minutes.
NODE_LIST_SECONDS = 30


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


def cluster_nodes(target: Target) -> list[kube.NodeState]:
    """A cluster target's nodes, by name, from its API server (cached briefly). A failure is not cached: it raises
    the 503 or 502 of `runner.nodes`."""
    key = f"cluster-nodes:{target.pk}:{target.context}"
    nodes: list[kube.NodeState] | None = cache.get(key)
    if nodes is None:
        nodes = runner.nodes(target)
        cache.set(key, nodes, NODE_LIST_SECONDS)
    return nodes


def workloads_of(incident: Incident) -> QuerySet[Workload]:
    """What the incident's services run on: where its quick actions point."""
    return (
        Workload.objects.filter(service__in=incident.services.all(), target__enabled=True)
        .select_related("service", "target", "namespace")
        .order_by("service__name", "target__kind", "target__name", "namespace__name", "deployment")
    )


def looks_list() -> QuerySet[Look]:
    return Look.objects.select_related("target", "requested_by", "incident").order_by("-created_at", "-pk")
