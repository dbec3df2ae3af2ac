"""`kubectl get`'s tables, rendered by the server as the API server renders them.

kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints the cells it gets; a server that
answered a plain list would get NAME and AGE only. The columns and cells follow Kubernetes' own printers
(pkg/printers/internalversion/printers.go), wide ones included: kubectl shows priority-1 columns with `-o wide`.
Ages are computed at the cluster's time.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from portal.kubesim.cluster import Obj, Resource
from portal.kubesim.selectors import label_selector_string

_NONE = "<none>"


def table_version(accept: str) -> str | None:
    """The meta.k8s.io version of Table the Accept header asks for (the first it names), or None."""
    for media_type in accept.split(","):
        parameters = dict(part.strip().split("=", 1) for part in media_type.split(";")[1:] if "=" in part)
        wanted = parameters.get("as") == "Table" and parameters.get("g") == "meta.k8s.io"
        if wanted and parameters.get("v") in ("v1", "v1beta1"):
            return parameters["v"]
    return None


def human_duration(seconds: float) -> str:
    """apimachinery's `duration.HumanDuration`: 45s, 3m20s, 15m, 5h2m, 3d4h, 400d, 2y10d."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return f"{minutes}m{whole % 60}s" if whole % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24 % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _since(value: str | None, now: datetime) -> str:
    if not value:
        return "<unknown>"
    return human_duration((now - datetime.fromisoformat(value)).total_seconds())


def _age(obj: Obj, now: datetime) -> str:
    return _since(obj["metadata"].get("creationTimestamp"), now)


def _column(name: str, kind: str = "string", *, priority: int = 0, description: str = "") -> Obj:
    column: Obj = {"name": name, "type": kind, "format": "name" if name == "Name" else "", "description": description}
    return column | {"priority": priority} if priority else column


def _containers(template_spec: Obj) -> tuple[str, str]:
    containers = template_spec.get("containers") or []
    return ",".join(c["name"] for c in containers), ",".join(c.get("image", "") for c in containers)


def _selector(selector: Obj | None) -> str:
    return label_selector_string(selector or {}) or _NONE


def _pod_cells(pod: Obj, now: datetime) -> list[Any]:
    spec, status = pod["spec"], pod.get("status", {})
    reason = status.get("reason") or status.get("phase", "")
    restarts, ready, last_restart = 0, 0, ""
    for container in reversed(status.get("containerStatuses") or []):
        restarts += container.get("restartCount", 0)
        finished = (container.get("lastState") or {}).get("terminated", {}).get("finishedAt", "")
        last_restart = max(last_restart, finished)
        state = container.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            terminated = state["terminated"]
            reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode', 0)}"
        elif container.get("ready") and "running" in state:
            ready += 1
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    shown_restarts = str(restarts)
    if restarts and last_restart:
        shown_restarts = f"{restarts} ({_since(last_restart, now)} ago)"
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        shown_restarts,
        _age(pod, now),
        status.get("podIP") or _NONE,
        spec.get("nodeName") or _NONE,
        status.get("nominatedNodeName") or _NONE,
        _NONE,
    ]


def _deployment_cells(deployment: Obj, now: datetime) -> list[Any]:
    spec, status = deployment["spec"], deployment.get("status", {})
    names, images = _containers(spec["template"].get("spec", {}))
    return [
        deployment["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(deployment, now),
        names,
        images,
        _selector(spec.get("selector")),
    ]


def _replica_set_cells(replica_set: Obj, now: datetime) -> list[Any]:
    spec, status = replica_set["spec"], replica_set.get("status", {})
    names, images = _containers(spec["template"].get("spec", {}))
    return [
        replica_set["metadata"]["name"],
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(replica_set, now),
        names,
        images,
        _selector(spec.get("selector")),
    ]


def _daemon_set_cells(daemon_set: Obj, now: datetime) -> list[Any]:
    spec, status = daemon_set["spec"], daemon_set.get("status", {})
    names, images = _containers(spec["template"].get("spec", {}))
    node_selector = spec["template"].get("spec", {}).get("nodeSelector") or {}
    return [
        daemon_set["metadata"]["name"],
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        ",".join(f"{key}={value}" for key, value in sorted(node_selector.items())) or _NONE,
        _age(daemon_set, now),
        names,
        images,
        _selector(spec.get("selector")),
    ]


def _node_cells(node: Obj, now: datetime) -> list[Any]:
    status = node.get("status", {})
    ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)
    states = {"True": "Ready", "False": "NotReady"}
    shown = [states.get(ready["status"], "Unknown") if ready else "Unknown"]
    if node["spec"].get("unschedulable"):
        shown.append("SchedulingDisabled")
    labels = node["metadata"].get("labels") or {}
    roles = sorted(
        {key.removeprefix("node-role.kubernetes.io/") for key in labels if key.startswith("node-role.kubernetes.io/")}
        | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set())
    )
    addresses = status.get("addresses", [])
    info = status.get("nodeInfo", {})
    return [
        node["metadata"]["name"],
        ",".join(shown),
        ",".join(roles) or _NONE,
        _age(node, now),
        info.get("kubeletVersion", ""),
        next((a["address"] for a in addresses if a["type"] == "InternalIP"), _NONE),
        next((a["address"] for a in addresses if a["type"] == "ExternalIP"), _NONE),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _service_cells(service: Obj, now: datetime) -> list[Any]:
    spec = service["spec"]
    kind = spec.get("type", "ClusterIP")
    external = list(spec.get("externalIPs") or [])
    if kind == "LoadBalancer":
        ingress = service.get("status", {}).get("loadBalancer", {}).get("ingress") or []
        external += [entry.get("ip") or entry.get("hostname", "") for entry in ingress] or ["<pending>"]
    elif kind == "ExternalName":
        external = [spec.get("externalName", "")]
    ports = [
        f"{port['port']}:{port['nodePort']}/{port.get('protocol', 'TCP')}"
        if port.get("nodePort")
        else f"{port['port']}/{port.get('protocol', 'TCP')}"
        for port in spec.get("ports", [])
    ]
    selector = spec.get("selector") or {}
    return [
        service["metadata"]["name"],
        kind,
        spec.get("clusterIP") or _NONE,
        ",".join(external) or _NONE,
        ",".join(ports) or _NONE,
        _age(service, now),
        ",".join(f"{key}={value}" for key, value in sorted(selector.items())) or _NONE,
    ]


def _event_cells(event: Obj, now: datetime) -> list[Any]:
    involved, source = event["involvedObject"], event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent", "")
    host = source.get("host") or event.get("reportingInstance", "")
    first = _since(event.get("firstTimestamp") or event.get("eventTime"), now)
    kind = involved.get("kind", "").lower()
    return [
        _since(event.get("lastTimestamp"), now) if event.get("lastTimestamp") else first,
        event.get("type", ""),
        event.get("reason", ""),
        f"{kind}/{involved['name']}" if involved.get("name") else kind,
        involved.get("fieldPath", ""),
        f"{component}, {host}" if host else component,
        event.get("message", "").strip(),
        first,
        event.get("count") or 1,
        event["metadata"]["name"],
    ]


def _namespace_cells(namespace: Obj, now: datetime) -> list[Any]:
    return [namespace["metadata"]["name"], namespace.get("status", {}).get("phase", ""), _age(namespace, now)]


def _secret_cells(secret: Obj, now: datetime) -> list[Any]:
    return [secret["metadata"]["name"], secret.get("type", "Opaque"), len(secret.get("data") or {}), _age(secret, now)]


def _budget_cells(budget: Obj, now: datetime) -> list[Any]:
    spec = budget["spec"]
    return [
        budget["metadata"]["name"],
        str(spec["minAvailable"]) if "minAvailable" in spec else "N/A",
        str(spec["maxUnavailable"]) if "maxUnavailable" in spec else "N/A",
        budget.get("status", {}).get("disruptionsAllowed", 0),
        _age(budget, now),
    ]


_AGE = _column("Age", description="Time since the object was created.")
_NAME = _column("Name", description="Name must be unique within a namespace.")
_CONTAINERS = (
    _column("Containers", priority=1, description="Names of each container in the template."),
    _column("Images", priority=1, description="Images referenced by each container in the template."),
    _column("Selector", priority=1, description="Label query over pods that should match the replicas count."),
)
Printer = tuple[tuple[Obj, ...], Callable[[Obj, datetime], list[Any]]]
PRINTERS: dict[str, Printer] = {
    "pods": (
        (
            _NAME,
            _column("Ready", description="Ready containers of all containers."),
            _column("Status", description="The aggregate status of the containers in this pod."),
            _column("Restarts", description="Container restarts, and when the last one was."),
            _AGE,
            _column("IP", priority=1, description="IP address allocated to the pod."),
            _column("Node", priority=1, description="Name of the node this pod is scheduled on."),
            _column("Nominated Node", priority=1, description="Name of the node the scheduler nominated."),
            _column("Readiness Gates", priority=1, description="The readiness gates of this pod."),
        ),
        _pod_cells,
    ),
    "deployments": (
        (
            _NAME,
            _column("Ready", description="Ready pods of the desired replicas."),
            _column("Up-to-date", "integer", description="Pods with the desired template."),
            _column("Available", "integer", description="Available pods."),
            _AGE,
            *_CONTAINERS,
        ),
        _deployment_cells,
    ),
    "replicasets": (
        (
            _NAME,
            _column("Desired", "integer", description="The number of desired replicas."),
            _column("Current", "integer", description="The most recently observed number of replicas."),
            _column("Ready", "integer", description="The number of ready replicas."),
            _AGE,
            *_CONTAINERS,
        ),
        _replica_set_cells,
    ),
    "daemonsets": (
        (
            _NAME,
            _column("Desired", "integer", description="Nodes that should run the daemon pod."),
            _column("Current", "integer", description="Nodes running the daemon pod."),
            _column("Ready", "integer", description="Nodes running a ready daemon pod."),
            _column("Up-to-date", "integer", description="Nodes running the updated daemon pod."),
            _column("Available", "integer", description="Nodes running an available daemon pod."),
            _column("Node Selector", description="Labels a node needs to run the pod."),
            _AGE,
            *_CONTAINERS,
        ),
        _daemon_set_cells,
    ),
    "nodes": (
        (
            _NAME,
            _column("Status", description="The status of the node"),
            _column("Roles", description="The roles of the node"),
            _AGE,
            _column("Version", description="Kubelet Version reported by the node."),
            _column("Internal-IP", priority=1, description="The node's internal address."),
            _column("External-IP", priority=1, description="The node's external address."),
            _column("OS-Image", priority=1, description="OS Image reported by the node."),
            _column("Kernel-Version", priority=1, description="Kernel Version reported by the node."),
            _column("Container-Runtime", priority=1, description="Container runtime version reported by the node."),
        ),
        _node_cells,
    ),
    "services": (
        (
            _NAME,
            _column("Type", description="How the Service is exposed."),
            _column("Cluster-IP", description="The IP address of the service."),
            _column("External-IP", description="Addresses outside the cluster that reach the service."),
            _column("Port(s)", description="The list of ports that are exposed by this service."),
            _AGE,
            _column("Selector", priority=1, description="The labels of the pods the service sends traffic to."),
        ),
        _service_cells,
    ),
    "events": (
        (
            _column("Last Seen", description="When this event last happened."),
            _column("Type", description="Type of this event (Normal, Warning)."),
            _column("Reason", description="Why the object changed, in a word."),
            _column("Object", description="The object that this event is about."),
            _column("Subobject", priority=1, description="The field path of the object this event is about."),
            _column("Source", priority=1, description="The component reporting this event."),
            _column("Message", description="A human-readable description of the status of this operation."),
            _column("First Seen", priority=1, description="When this event first happened."),
            _column("Count", priority=1, description="The number of times this event has occurred."),
            _column("Name", priority=1, description="Name must be unique within a namespace."),
        ),
        _event_cells,
    ),
    "secrets": (
        (
            _NAME,
            _column("Type", description="The type of secret"),
            _column("Data", "integer", description="The number of keys in the secret."),
            _AGE,
        ),
        _secret_cells,
    ),
    "namespaces": (
        (_NAME, _column("Status", description="The status of the namespace"), _AGE),
        _namespace_cells,
    ),
    "poddisruptionbudgets": (
        (
            _NAME,
            _column("Min Available", description="Pods that must stay available."),
            _column("Max Unavailable", description="Pods that may be unavailable."),
            _column("Allowed Disruptions", "integer", description="Pods that may be disrupted now."),
            _AGE,
        ),
        _budget_cells,
    ),
}


def _row_object(resource: Resource, obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return {"kind": resource.kind, "apiVersion": resource.api_version} | obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def to_table(
    resource: Resource, objects: list[Obj], *, now: datetime, metadata: Obj, include: str, version: str = "v1"
) -> Obj:
    """A meta.k8s.io Table of `objects`, each row carrying the object as `includeObject` asks (default Metadata)."""
    columns, cells = PRINTERS[resource.plural]
    rows = []
    for obj in objects:
        row: Obj = {"cells": cells(obj, now)}
        shown = _row_object(resource, obj, include)
        if shown is not None:
            row["object"] = shown
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": metadata,
        "columnDefinitions": list(columns),
        "rows": rows,
    }
