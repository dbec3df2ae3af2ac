"""metrics.k8s.io/v1beta1 for `kubectl top`: PodMetrics and NodeMetrics as metrics-server reports them.

Usage is plausible and deterministic: each container has a steady level (derived from its pod and name; API and web
containers work harder than the rest) that moves by up to ±20% from one minute of the cluster's time to the next. A
node uses what its pods use plus a system share. Only running pods have metrics, as with metrics-server.
"""

import hashlib
from datetime import datetime

from portal.kubesim.cluster import Obj, timestamp

WINDOW = "15s"
_SYSTEM_NANOCORES = 180_000_000
_SYSTEM_KIB = 900 * 1024


def _fraction(*parts: object) -> float:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _container_usage(pod: Obj, container: str, now: datetime) -> tuple[int, int]:
    """(nanocores, KiB) a container uses during the current minute."""
    name = pod["metadata"]["name"]
    busy = 4 if any(word in container for word in ("api", "web")) else 1
    level = _fraction(name, container, "level")
    minute = int(now.timestamp() // 60)
    swing = 0.8 + 0.4 * _fraction(name, container, minute)
    millicores = (5 + 60 * busy * level) * swing
    mebibytes = (48 + 96 * busy * _fraction(name, container, "memory")) * (0.95 + 0.1 * _fraction(minute, name))
    return int(millicores * 1_000_000), int(mebibytes * 1024)


def _running(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") == "Running" and "deletionTimestamp" not in pod["metadata"]


def pod_metrics(pod: Obj, now: datetime) -> Obj | None:
    """The PodMetrics of a running pod, or None."""
    if not _running(pod):
        return None
    meta = pod["metadata"]
    containers = []
    for container in pod["spec"]["containers"]:
        nanocores, kib = _container_usage(pod, container["name"], now)
        containers.append({"name": container["name"], "usage": {"cpu": f"{nanocores}n", "memory": f"{kib}Ki"}})
    return {
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "creationTimestamp": timestamp(now),
            "labels": dict(meta.get("labels") or {}),
        },
        "timestamp": timestamp(now),
        "window": WINDOW,
        "containers": containers,
    }


def node_metrics(node: Obj, pods: list[Obj], now: datetime) -> Obj:
    """The NodeMetrics of a node, given the pods on it."""
    nanocores, kib = _SYSTEM_NANOCORES, _SYSTEM_KIB
    for pod in filter(_running, pods):
        for container in pod["spec"]["containers"]:
            cpu, memory = _container_usage(pod, container["name"], now)
            nanocores, kib = nanocores + cpu, kib + memory
    meta = node["metadata"]
    return {
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": meta["name"],
            "creationTimestamp": timestamp(now),
            "labels": dict(meta.get("labels") or {}),
        },
        "timestamp": timestamp(now),
        "window": WINDOW,
        "usage": {"cpu": f"{nanocores}n", "memory": f"{kib}Ki"},
    }
