from typing import Any

from django.core.cache import cache
from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone

from incidents.models import Incident
from portal import kube
from portal.cluster import runner
from portal.cluster.models import ActionApproval, ActionKind, ActionRun, Look, Target, Workload
from portal.core.derived_cache import DerivedCache

# How old a node picker's list may be: every redraw of the request form asks, and nodes come and go in minutes.
NODE_LIST_SECONDS = 30


def action_runs() -> QuerySet[ActionRun]:
    """Runs, newest first, with what list pages and the API show."""
    return ActionRun.objects.select_related("target", "requested_by", "resolved_by", "incident__severity").order_by(
        "-created_at", "-pk"
    )


# What the actions page's table shows of a run's own columns.
TABLE_COLUMNS = ("id", "kind", "parameters", "environment", "status", "error", "created_at", "incident_id")
KIND_LABELS = dict(ActionKind.choices)


def action_table_rows(page: QuerySet[ActionRun]) -> list[dict[str, Any]]:
    """What the actions page's table shows of a page of `action_runs`, as values: the run's columns, its target's
    name, requester's username and incident's severity. In the 100k bench, a page of its 20 runs read as models (with
    their target, people and incident) took 8.6-11.6 ms, against 3.2-3.5 ms this way; rendering costs the same."""
    values: QuerySet[ActionRun, dict[str, Any]] = page.values(
        *TABLE_COLUMNS,
        target_name=F("target__name"),
        requested_by_name=F("requested_by__username"),
        incident_severity=F("incident__severity__code"),
    )
    rows = list(values)
    for row in rows:
        row["reference"] = ActionRun.reference_of(row["id"])
        row["kind_label"] = KIND_LABELS.get(row["kind"], row["kind"])
        row["incident_reference"] = None if row["incident_id"] is None else Incident.reference_of(row["incident_id"])
    return rows


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


# What the services run on (on enabled targets), kept: every incident page shows its services' workloads, and the
# query cost more to plan than to run. Dropped on any change to a workload, target, namespace or service
# (ClusterConfig.ready). The targets' URLs stay out: they are secrets, and the cache is no place for them.
WORKLOADS = DerivedCache("workloads")


def workloads_of(incident: Incident) -> list[Workload]:
    """What the incident's services run on: where its quick actions point."""
    service_ids = {service.pk for service in incident.services.all()}
    return [workload for workload in _enabled_workloads() if workload.service_id in service_ids]


def _enabled_workloads() -> list[Workload]:
    def read() -> tuple[list[Workload], None]:
        workloads = (
            Workload.objects.filter(target__enabled=True)
            .select_related("service", "target", "namespace")
            .defer("target__url")
            .order_by("service__name", "target__kind", "target__name", "namespace__name", "deployment")
        )
        return list(workloads), None

    found: list[Workload] = WORKLOADS.get_or_compute("enabled", read, now=timezone.now())
    return found


def looks_list() -> QuerySet[Look]:
    return Look.objects.select_related("target", "requested_by", "incident").order_by("-created_at", "-pk")


# The incident page's Actions and Investigate cards read only what they show of an incident's latest runs and looks:
# not the incident again, nor its severity, nor the other tables the lists join, which PostgreSQL has to plan.


def latest_action_runs(incident: Incident, *, limit: int) -> list[ActionRun]:
    """Its latest runs' kind and status (their reference is their key)."""
    runs = ActionRun.objects.filter(incident=incident).only("kind", "status").order_by("-created_at", "-pk")
    return list(runs[:limit])


# What the incident page shows of a look (templates/cluster/look_detail.html#look-body), besides its target and asker.
LOOK_SHOWN = ("kind", "status", "command", "progress", "summary", "columns", "rows", "text", "error", "created_at")


def latest_looks(incident: Incident, *, limit: int) -> list[Look]:
    """Its latest looks, with what the incident page shows of each: its answer, its target's name and who asked
    (all 46 columns of the three tables took longer to compile than the read took to run)."""
    looks = (
        Look.objects.filter(incident=incident)
        .select_related("target", "requested_by")
        .only(*LOOK_SHOWN, "target__name", "requested_by__username")
        .order_by("-created_at", "-pk")
    )
    return list(looks[:limit])
