"""Looking without changing: each kind of look (pods, events, logs, top, rollout status, Redis INFO, PostgreSQL
activity), its parameters, what a person would type for it, and how the worker fetches it.

Looks run in the worker, under a deadline and (for logs) a size cap, so a slow API server or a chatty pod holds
neither a web process nor the page. Network only here: the services record the outcome.
"""

import re
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from portal import kube
from portal.cluster import datastores
from portal.cluster.actions import Param, Value, clean_params
from portal.cluster.models import LookKind, Target
from portal.errors import ApplicationError

Report = Callable[[str], None]
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# Label selectors: keys, values, operators, commas, parentheses and spaces, nothing a shell or URL would read.
_SELECTOR = re.compile(r"^[A-Za-z0-9_./\-=!, ()]*$")
MAX_TAIL = 5000


NAMESPACE = Param("namespace", str, "Namespace", required=True)
SELECTOR = Param("selector", str, "Label selector", help="e.g. app=broxiva-api")
OF_DEPLOYMENT = Param("deployment", str, "Pods of deployment", help="Its own selector; instead of a label selector.")

LOOK_PARAMS: dict[LookKind, tuple[Param, ...]] = {
    LookKind.PODS: (NAMESPACE, SELECTOR, OF_DEPLOYMENT),
    LookKind.EVENTS: (NAMESPACE, Param("name", str, "About objects named", help="A prefix: broxiva-api")),
    LookKind.LOGS: (
        NAMESPACE,
        Param("pod", str, "Pod"),
        SELECTOR,
        OF_DEPLOYMENT,
        Param("container", str, "Container"),
        Param("tail", int, "Last lines (per pod)", default=100, minimum=1, maximum=MAX_TAIL),
        Param("timestamps", bool, "Timestamps", default=True),
        Param("previous", bool, "Previous container (after a crash)", default=False),
        Param("filter", str, "Only lines containing"),
    ),
    LookKind.TOP_PODS: (NAMESPACE, SELECTOR, OF_DEPLOYMENT),
    LookKind.TOP_NODES: (),
    LookKind.ROLLOUT_STATUS: (NAMESPACE, Param("deployment", str, "Deployment", required=True)),
    LookKind.REDIS_INFO: (),
    LookKind.PG_CONNECTIONS: (),
    LookKind.PG_LONG_QUERIES: (
        Param("min_seconds", int, "Running for at least (s)", default=0, minimum=0, maximum=7 * 24 * 3600),
    ),
    LookKind.PG_SIZE: (),
    LookKind.PG_STATEMENTS: (Param("limit", int, "Slowest", default=20, minimum=1, maximum=200),),
}
TARGET_KIND = {
    kind: (
        Target.Kind.REDIS
        if kind == LookKind.REDIS_INFO
        else Target.Kind.POSTGRESQL
        if kind.startswith("pg_")
        else Target.Kind.KUBERNETES
    )
    for kind in LookKind
}
PARAMETER_NAMES = tuple(dict.fromkeys(param.name for params in LOOK_PARAMS.values() for param in params))


def kinds_for(target: Target) -> list[LookKind]:
    return [kind for kind in LookKind if TARGET_KIND[kind] == target.kind]


def validate(kind: LookKind, target: Target, raw: Mapping[str, object]) -> dict[str, Value]:
    """The look's parameters, typed and bounded; a bad one is an `ApplicationError` naming the field."""
    if TARGET_KIND[kind] != target.kind:
        raise ApplicationError(
            f"{kind.label} looks at a {TARGET_KIND[kind].label} target; {target} is a {target.get_kind_display()}.",
            field="target",
        )
    clean = clean_params(LOOK_PARAMS[kind], raw, what=kind.label)
    for name, pattern in (("namespace", _LABEL), ("pod", _SUBDOMAIN), ("deployment", _SUBDOMAIN),
                          ("container", _LABEL), ("name", _SUBDOMAIN), ("selector", _SELECTOR)):  # fmt: skip
        value = clean.get(name)
        if isinstance(value, str) and (len(value) > 253 or not pattern.match(value)):
            raise ApplicationError(f"{name.title()}: {value!r} is not valid here.", field=name)
    if isinstance(clean.get("filter"), str) and len(str(clean["filter"])) > 200:
        raise ApplicationError("Filter: at most 200 characters.", field="filter")
    if kind == LookKind.LOGS and not any(clean.get(name) for name in ("pod", "selector", "deployment")):
        raise ApplicationError("Name a pod, a label selector or a deployment whose pods' logs to read.", field="pod")
    return clean


def subject(kind: LookKind, target: Target, p: Mapping[str, Any]) -> str:
    """What was looked at, for the timeline: `logs of broxiva-production -l app=broxiva-api`."""
    where = p.get("pod") or (f"-l {p['selector']}" if p.get("selector") else "")
    if not where and p.get("deployment") and kind != LookKind.ROLLOUT_STATUS:
        where = str(p["deployment"])
    if kind == LookKind.LOGS:
        previous = " (previous container)" if p.get("previous") else ""
        return f"logs of {p['namespace']} {where}{previous}"
    if kind in (LookKind.PODS, LookKind.TOP_PODS):
        return f"{kind.label.lower()} of {p['namespace']}{' ' + where if where else ''}"
    if kind == LookKind.EVENTS:
        about = f" about {p['name']}" if p.get("name") else ""
        return f"events of {p['namespace']}{about}"
    if kind == LookKind.ROLLOUT_STATUS:
        return f"the rollout of {p['namespace']}/{p['deployment']}"
    if kind == LookKind.TOP_NODES:
        return f"node usage on {target}"
    return f"{kind.label} of {target}"


def command_for(kind: LookKind, target: Target, p: Mapping[str, Any]) -> str:
    """The kubectl, redis-cli or SQL a person would type for the same look."""
    if TARGET_KIND[kind] == Target.Kind.REDIS:
        return datastores.redis_info_command(target.url)
    if TARGET_KIND[kind] == Target.Kind.POSTGRESQL:
        return datastores.pg_look_command(target.url, kind.value, p)
    context = f" --context {shlex.quote(target.context)}" if target.context else ""
    ns = f" -n {p['namespace']}" if p.get("namespace") else ""
    selector = f" -l {shlex.quote(str(p['selector']))}" if p.get("selector") else ""
    if kind == LookKind.PODS:
        body = f"get pods{selector} -o wide"
    elif kind == LookKind.EVENTS:
        body = "get events --sort-by=.lastTimestamp"
    elif kind == LookKind.TOP_PODS:
        body = f"top pods{selector}"
    elif kind == LookKind.TOP_NODES:
        body = "top nodes"
    elif kind == LookKind.ROLLOUT_STATUS:
        body = f"rollout status deployment/{p['deployment']} --watch=false"
    else:
        which = str(p["pod"]) if p.get("pod") else selector.strip()
        flags = [f"--tail={p['tail']}"] + ["--timestamps"] * bool(p.get("timestamps"))
        flags += ["--previous"] * bool(p.get("previous"))
        if p.get("container"):
            flags.append(f"-c {p['container']}")
        grep = f" | grep -F {shlex.quote(str(p['filter']))}" if p.get("filter") else ""
        body = f"logs {which} {' '.join(flags)}{grep}"
    return f"kubectl{context}{ns} {body}"


@dataclass
class Found:
    """What a look found: a table, or text (logs), with a summary for the timeline."""

    summary: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    text: str = ""
    truncated: bool = False
    selector: str = ""


class Deadline:
    def __init__(self, seconds: float):
        self.ends = time.monotonic() + seconds
        self.seconds = seconds

    def left(self) -> float:
        return self.ends - time.monotonic()


def fetch(kind: LookKind, target: Target, p: Mapping[str, Any], *, report: Report) -> Found:
    """Fetch the look, reporting progress; raises `kube.KubeError`, `datastores.DataStoreError`, or `LookTimeout`."""
    deadline = Deadline(settings.LOOK_DEADLINE_SECONDS)
    if TARGET_KIND[kind] == Target.Kind.REDIS:
        return _redis_info(target)
    if TARGET_KIND[kind] == Target.Kind.POSTGRESQL:
        return _postgres(kind, target, p)
    with kube.using_context(target.context):
        if kind == LookKind.LOGS:
            return _logs(p, report=report, deadline=deadline)
        return _cluster(kind, p)


class LookTimeout(Exception):
    """The look's deadline passed; what was fetched so far is kept."""

    def __init__(self, found: Found):
        super().__init__(found.summary)
        self.found = found


def _selector(p: Mapping[str, Any]) -> str:
    """The label selector given, or the one of the deployment named."""
    if p.get("selector") or not p.get("deployment"):
        return str(p.get("selector", ""))
    return kube.deployment_selector(p["namespace"], p["deployment"])


def _cluster(kind: LookKind, p: Mapping[str, Any]) -> Found:
    if kind == LookKind.PODS:
        pods = kube.list_pods(p["namespace"], selector=_selector(p))
        unhealthy = sum(pod.status != "Running" for pod in pods)
        return Found(
            f"{len(pods)} pods, {unhealthy} not running" if unhealthy else f"{len(pods)} pods, all running",
            ["Name", "Ready", "Status", "Restarts", "Node", "Created"],
            [[pod.name, pod.ready, pod.status, pod.restarts, pod.node, pod.created_at] for pod in pods],
            selector=_selector(p),
        )
    if kind == LookKind.EVENTS:
        events = kube.list_events(p["namespace"], involving=p.get("name", ""))
        warnings = sum(event.type == "Warning" for event in events)
        return Found(
            f"{len(events)} events, {warnings} warnings",
            ["Last seen", "Type", "Reason", "Object", "Message", "Count"],
            [[e.last_seen, e.type, e.reason, e.object, e.message, e.count] for e in events],
        )
    if kind in (LookKind.TOP_PODS, LookKind.TOP_NODES):
        nodes = kind == LookKind.TOP_NODES
        selector = "" if nodes else _selector(p)
        usage = kube.top_nodes() if nodes else kube.top_pods(p["namespace"], selector=selector)
        columns = ["Name", "CPU (cores)", "CPU %", "Memory (bytes)", "Memory %"] if nodes else [
            "Name", "CPU (cores)", "Memory (bytes)"
        ]  # fmt: skip
        rows = [
            [
                u.name,
                f"{u.cpu_millicores}m",
                f"{u.cpu_percent}%",
                f"{u.memory_bytes // 2**20}Mi",
                f"{u.memory_percent}%",
            ]
            if nodes
            else [u.name, f"{u.cpu_millicores}m", f"{u.memory_bytes // 2**20}Mi"]
            for u in usage
        ]
        busiest = max(usage, key=lambda u: u.memory_bytes, default=None)
        top = f"; most memory: {busiest.name} {busiest.memory_bytes // 2**20}Mi" if busiest else ""
        return Found(f"{len(usage)} {'nodes' if nodes else 'pods'}{top}", columns, rows, selector=selector)
    status = kube.rollout_status_now(p["namespace"], p["deployment"])
    state = status.deployment
    return Found(
        status.message,
        ["Revision", "Images", "Replicas", "Updated", "Ready", "Available"],
        [[state.revision, ", ".join(state.images), state.replicas, state.updated_replicas, state.ready_replicas,
          state.available_replicas]],
    )  # fmt: skip


def _logs(p: Mapping[str, Any], *, report: Report, deadline: Deadline) -> Found:
    """Each pod's log in turn, within the deadline and the size cap, filtered, prefixed with the pod when several."""
    namespace = p["namespace"]
    selector = "" if p.get("pod") else _selector(p)
    pods = [p["pod"]] if p.get("pod") else [pod.name for pod in kube.list_pods(namespace, selector=selector)]
    cap, needle = settings.LOOK_MAX_LOG_BYTES, str(p.get("filter") or "").lower()
    chunks: list[str] = []
    size, lines, truncated, errors = 0, 0, False, 0
    for number, pod in enumerate(pods, start=1):
        left = deadline.left()
        if left <= 0 or size >= cap:
            truncated = True
            break
        report(f"reading pod {number} of {len(pods)}: {pod}")
        try:
            text = kube.pod_log(
                namespace, pod, container=p.get("container", ""), tail=p["tail"], timestamps=p["timestamps"],
                previous=p["previous"], limit_bytes=cap - size, timeout=min(left, float(settings.KUBE_REQUEST_TIMEOUT)),
            )  # fmt: skip
        except kube.KubeUnavailable:
            if deadline.left() <= 0:
                truncated = True
                break
            raise
        except kube.KubeError as exc:
            errors += 1
            text, kept = f"error: {exc.message}\n", None
        else:
            # The kubelet stops at limit_bytes: reaching it means there was more.
            truncated = truncated or len(text.encode()) >= cap - size
            kept = [line for line in text.splitlines() if needle in line.lower()]
            text = "".join(f"{line}\n" for line in kept)
        if len(pods) > 1:
            text = "".join(f"[pod/{pod}] {line}\n" for line in text.splitlines())
        size += len(text.encode())
        lines += len(kept) if kept is not None else 0
        chunks.append(text)
    if truncated:
        why = "the deadline passed" if deadline.left() <= 0 else f"the {cap // 1024} KiB cap was reached"
        report(f"stopped early: {why}")
    filtered = f" containing {p['filter']!r}" if p.get("filter") else ""
    failed = f", {errors} pods refused" if errors else ""
    summary = f"{lines} lines{filtered} from {len(pods)} pods{failed}{' (cut short)' if truncated else ''}"
    found = Found(summary, text="".join(chunks), truncated=truncated, selector=selector)
    if truncated and deadline.left() <= 0:
        raise LookTimeout(found)
    return found


def _redis_info(target: Target) -> Found:
    info = datastores.redis_info(target.url)
    rows = [[label, value] for label, value in info.rows()]
    return Found(info.summary(), ["", "Value"], rows)


def _postgres(kind: LookKind, target: Target, p: Mapping[str, Any]) -> Found:
    table = datastores.pg_look(target.url, kind.value, p)
    return Found(table.summary, table.columns, table.rows, truncated=table.truncated)
