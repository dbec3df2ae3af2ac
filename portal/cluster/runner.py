"""Reaching a run's target: the preview read when it is requested, and the action itself in the worker.

Network only, no database: callers hold no transaction while these run. Kubernetes goes through `portal.kube` on
the target's kubeconfig context, Redis and PostgreSQL through `datastores` on the target's URL.
"""

import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from portal import kube
from portal.cluster import datastores
from portal.cluster.actions import SPECS
from portal.cluster.models import ActionKind, ActionRun, Target
from portal.cluster.secrets import fingerprint, mask_url
from portal.errors import ApplicationError, UnavailableError, UpstreamError

Report = Callable[[str], None]
Data = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    summary: str
    before: Data = field(default_factory=dict)
    after: Data = field(default_factory=dict)
    result: Data = field(default_factory=dict)


def _deployment_data(state: kube.DeploymentState) -> Data:
    data = asdict(state)
    data["images"] = list(state.images)
    return data


def _images(state: kube.DeploymentState | kube.Revision) -> str:
    return ", ".join(state.images) or "no image"


@contextmanager
def _cluster(target: Target) -> Iterator[None]:
    with kube.using_context(target.context):
        yield


# -- preview -------------------------------------------------------------------------------------------------------


def preview(run: ActionRun) -> str:
    """What the run will do, as read from its target now; refuses (4xx/5xx) what cannot work.

    Unknown deployments and nodes, missing revisions, paused deployments and drains kubectl would refuse are caught
    here, before anything is enqueued. Data stores are not contacted: only their URL is checked.
    """
    p, target = run.parameters, run.target
    if SPECS[ActionKind(run.kind)].target_kind != Target.Kind.KUBERNETES:
        return _datastore_preview(ActionKind(run.kind), target, p)
    try:
        with _cluster(target):
            if SPECS[ActionKind(run.kind)].scope == "deployment":
                return _deployment_preview(ActionKind(run.kind), target, p)
            if SPECS[ActionKind(run.kind)].scope == "secret":
                return _secret_preview(p)
            return _node_preview(ActionKind(run.kind), target, p)
    except (kube.KubeUnavailable, kube.KubernetesNotConfigured) as exc:
        raise UnavailableError(f"{target}: {exc.message}", field="target") from exc
    except kube.KubeNotFound as exc:
        scope = "deployment" if SPECS[ActionKind(run.kind)].scope == "deployment" else "node"
        raise ApplicationError(f"{scope.title()}: {exc.message} in {target}.", field=scope) from exc
    except kube.KubeError as exc:
        raise UpstreamError(f"{target} refused to show it: {exc.message}", field="target") from exc


def nodes(target: Target) -> list[kube.NodeState]:
    """The cluster's nodes, for a picker; an API server that does not answer or refuses is a 503 or 502 naming it."""
    try:
        with _cluster(target):
            return kube.list_nodes()
    except (kube.KubeUnavailable, kube.KubernetesNotConfigured) as exc:
        raise UnavailableError(f"{target}: {exc.message}", field="target") from exc
    except kube.KubeError as exc:
        raise UpstreamError(f"{target} refused to list its nodes: {exc.message}", field="target") from exc


def _deployment_preview(kind: ActionKind, target: Target, p: Mapping[str, Any]) -> str:
    namespace, name = p["namespace"], p["deployment"]
    where = f"{namespace}/{name}"
    state = kube.read_deployment(namespace, name)
    now = (
        f"now {state.replicas} replicas at revision {state.revision} ({_images(state)}), "
        f"{state.available_replicas} available"
    )
    if kind == ActionKind.ROLLOUT_HISTORY:
        return f"Lists the revisions of {where} ({now}). Changes nothing."
    if kind == ActionKind.ROLLOUT_STATUS:
        return f"Waits up to {p['timeout_seconds']} s for the rollout of {where} to complete ({now}). Changes nothing."
    if kind == ActionKind.SCALE:
        if p["replicas"] == state.replicas:
            return f"{where} already has {state.replicas} replicas: nothing changes."
        return f"{where} goes from {state.replicas} to {p['replicas']} replicas ({_images(state)}); {now}."
    if state.paused:
        raise ApplicationError(
            f"Deployment: {where} is paused; resume it (kubectl rollout resume) before a {kind.label.lower()}.",
            field="deployment",
        )
    if kind == ActionKind.RESTART:
        return (
            f"Every pod of {where} is replaced by a rolling update (a new restartedAt stamp on the pod template, "
            f"so a new revision); {now}."
        )
    return _rollback_preview(where, state, kube.rollout_history(namespace, name), p.get("to_revision"))


def _rollback_preview(
    where: str, state: kube.DeploymentState, history: tuple[kube.Revision, ...], wanted: int | None
) -> str:
    known = [entry.revision for entry in history]
    if wanted is not None:
        chosen = next((entry for entry in history if entry.revision == wanted), None)
        if chosen is None:
            listed = ", ".join(map(str, known)) or "none"
            raise ApplicationError(
                f"To revision: {where} has no revision {wanted} (it has {listed}).", field="to_revision"
            )
    elif len(history) < 2:
        raise ApplicationError(f"Deployment: {where} has no previous revision to roll back to.", field="deployment")
    else:
        chosen = history[-2]
    if chosen.revision == state.revision:
        return f"{where} is already at revision {chosen.revision} ({_images(chosen)}): nothing changes."
    cause = f', "{chosen.change_cause}"' if chosen.change_cause else ""
    return (
        f"{where} goes from revision {state.revision} ({_images(state)}) back to revision {chosen.revision}'s pod "
        f"template ({_images(chosen)}{cause}), which becomes revision {max(known) + 1}; the pods roll over."
    )


def _secret_preview(p: Mapping[str, Any]) -> str:
    """What setting the key changes, from the Secret's keys (never its values) and the deployments reading it."""
    namespace, name, key = p["namespace"], p["secret"], p["key"]
    secret = kube.secret_keys(namespace, name)
    users = kube.deployments_using_secret(namespace, name)
    value = f"a generated {p['length']}-character value" if p["generate"] else "the value you type when confirming"
    if not secret.exists:
        change = f"Secret {namespace}/{name} does not exist: it is created with key {key} set to {value}."
    elif key in secret.keys:
        change = f"Key {key} of {namespace}/{name} (keys: {', '.join(secret.keys)}) is replaced by {value}."
    else:
        change = f"Key {key} is added to {namespace}/{name} (keys: {', '.join(secret.keys)}), set to {value}."
    if not users:
        return f"{change} No deployment in {namespace} reads this secret."
    listed = ", ".join(users)
    if p["restart"]:
        return f"{change} Then {listed} are restarted (rollout restart) to read it."
    return f"{change} {listed} read this secret and keep the old value until their pods restart."


def _node_preview(kind: ActionKind, target: Target, p: Mapping[str, Any]) -> str:
    node = p["node"]
    if kind != ActionKind.DRAIN:
        state = kube.read_node(node)
        if state.unschedulable == (kind == ActionKind.CORDON):
            return f"Node {node} is already {'cordoned' if state.unschedulable else 'schedulable'}: nothing changes."
        if kind == ActionKind.CORDON:
            return f"Node {node} is marked unschedulable: no new pods go there; its running pods stay."
        return f"Node {node} is schedulable again: the scheduler may place new pods there."
    drain = kube.drain_preview(node, delete_emptydir_data=bool(p["delete_emptydir_data"]), force=bool(p["force"]))
    if drain.errors:
        raise ApplicationError(f"Node: cannot drain {node}: " + "; ".join(drain.errors), field="node")
    pods = ", ".join(drain.evict[:10]) + (f" and {len(drain.evict) - 10} more" if len(drain.evict) > 10 else "")
    stays = f" Stays: {'; '.join(drain.warnings)}." if drain.warnings else ""
    return (
        f"Node {node} is cordoned, then its {len(drain.evict)} pods are evicted ({pods or 'none'}), one at a time, "
        f"retrying while a PodDisruptionBudget refuses, for at most {p['timeout_seconds']} s.{stays} "
        "The node stays cordoned afterwards."
    )


def _datastore_preview(kind: ActionKind, target: Target, p: Mapping[str, Any]) -> str:
    if error := datastores.url_errors(target.kind, target.url):
        raise ApplicationError(f"{target}: {error}", field="target")
    where = mask_url(target.url)
    if kind == ActionKind.REDIS_FLUSH:
        return f"Every key of {where} is deleted (FLUSHDB), and only that database. This cannot be undone."
    if kind == ActionKind.REDIS_DELETE_PATTERN:
        return (
            f"Keys of {where} matching {p['pattern']!r} are found with SCAN and unlinked {p['batch_size']} at a time. "
            "This cannot be undone."
        )
    database = datastores.database_name(target.url)
    if kind == ActionKind.PG_TERMINATE_BACKEND:
        return (
            f"Backend {p['pid']} of database {database} on {where} is terminated (pg_terminate_backend): its query is "
            "cancelled and its client must reconnect. Refused if that pid is not connected to this database."
        )
    if kind == ActionKind.PG_VACUUM_ANALYZE:
        return (
            f"VACUUM (ANALYZE) {p['table']} on database {database} on {where}: dead rows are reclaimed and the "
            "planner's statistics refreshed. It reads the whole table and slows other work on it while it runs."
        )
    return (
        f"Connections to database {database} on {where} idle for more than "
        f"{p['idle_minutes']} min are terminated (never this portal's own); their clients must reconnect."
    )


# -- execution -----------------------------------------------------------------------------------------------------


def execute(run: ActionRun, *, report: Report, now: datetime) -> Outcome:
    """Carry the action out, reporting progress lines as it goes. Failures raise `kube.KubeError` or
    `datastores.DataStoreError`; `kube.RolloutTimeout` and `kube.DrainTimeout` mean our own deadline passed."""
    kind, p, target = ActionKind(run.kind), run.parameters, run.target
    if SPECS[kind].target_kind != Target.Kind.KUBERNETES:
        return _datastore(kind, target, p, report)
    with _cluster(target):
        if SPECS[kind].scope == "node":
            return _node(kind, p, report)
        if SPECS[kind].scope == "secret":
            return _secret(p, run.secret_value, report, now)
        return _deployment(kind, p, report, now)


def _deployment(kind: ActionKind, p: Mapping[str, Any], report: Report, now: datetime) -> Outcome:
    namespace, name = p["namespace"], p["deployment"]
    if kind == ActionKind.SCALE:
        before = kube.read_deployment(namespace, name)
        scaled = kube.scale(namespace, name, p["replicas"])
        report(f"scaled {namespace}/{name} from {scaled.replicas_before} to {scaled.replicas_after} replicas")
        after = kube.read_deployment(namespace, name)
        return Outcome(
            f"{scaled.replicas_before} → {scaled.replicas_after} replicas",
            _deployment_data(before),
            _deployment_data(after),
        )
    if kind == ActionKind.RESTART:
        restarted = kube.rollout_restart(namespace, name, now=now)
        report(f"stamped restartedAt={restarted.restarted_at}; the pods roll over")
        return Outcome(
            f"restarted at {restarted.restarted_at}",
            _deployment_data(restarted.before),
            _deployment_data(restarted.after),
        )
    if kind == ActionKind.ROLLBACK:
        undone = kube.rollout_undo(namespace, name, to_revision=p.get("to_revision"))
        report(undone.message)
        return Outcome(
            undone.message,
            _deployment_data(undone.before),
            _deployment_data(undone.after),
            {"to_revision": undone.to_revision, "changed": undone.changed},
        )
    if kind == ActionKind.ROLLOUT_STATUS:
        report(f"waiting up to {p['timeout_seconds']} s for the rollout of {namespace}/{name}")
        status = kube.rollout_status(namespace, name, timeout_seconds=p["timeout_seconds"])
        report(status.message)
        return Outcome(status.message, after=_deployment_data(status.deployment))
    history = kube.rollout_history(namespace, name)
    for entry in history:
        report(f"revision {entry.revision}: {_images(entry)} {entry.change_cause or '<none>'}")
    revisions = [asdict(entry) | {"images": list(entry.images)} for entry in history]
    return Outcome(f"{len(history)} revisions", result={"revisions": revisions})


def _secret(p: Mapping[str, Any], typed: str, report: Report, now: datetime) -> Outcome:
    """Set the key to the typed value or a generated one (made here, so it is stored nowhere else), report only its
    fingerprint, then restart the deployments that read the secret if asked."""
    namespace, name, key = p["namespace"], p["secret"], p["key"]
    if p["generate"]:
        value = secrets.token_urlsafe(p["length"])[: p["length"]]
    elif typed:
        value = typed
    else:
        raise kube.KubeError("The typed value is gone (the run was started once already); request it again.")
    changed = kube.secret_set_key(namespace, name, key, value)
    mark = fingerprint(value)
    verb = "created with" if changed.created else "replaced" if changed.replaced else "added"
    report(f"secret {namespace}/{name}: key {key} {verb} (fingerprint {mark})")
    restarted = []
    if p["restart"]:
        for deployment in kube.deployments_using_secret(namespace, name):
            result = kube.rollout_restart(namespace, deployment, now=now)
            report(f"restarted {namespace}/{deployment} (restartedAt={result.restarted_at})")
            restarted.append(deployment)
    summary = f"key {key} of {namespace}/{name} set (fingerprint {mark})"
    if restarted:
        summary += f"; restarted {', '.join(restarted)}"
    return Outcome(
        summary,
        result={"key": key, "fingerprint": mark, "generated": bool(p["generate"]), "created": changed.created,
                "secret_keys": list(changed.keys), "restarted": restarted},
    )  # fmt: skip


def _node(kind: ActionKind, p: Mapping[str, Any], report: Report) -> Outcome:
    node = p["node"]
    if kind in (ActionKind.CORDON, ActionKind.UNCORDON):
        changed = kube.cordon(node) if kind == ActionKind.CORDON else kube.uncordon(node)
        state = "unschedulable" if changed.unschedulable_after else "schedulable"
        summary = f"node {node} is {state}" + ("" if changed.changed else " (it already was)")
        report(summary)
        return Outcome(
            summary, {"unschedulable": changed.unschedulable_before}, {"unschedulable": changed.unschedulable_after}
        )
    drained = kube.drain(
        node,
        grace_period_seconds=p["grace_period_seconds"],
        timeout_seconds=p["timeout_seconds"],
        delete_emptydir_data=p["delete_emptydir_data"],
        force=p["force"],
        on_progress=lambda progress: report(f"{progress.pod}: {progress.message}"),
    )
    for warning in drained.warnings:
        report(f"warning: {warning}")
    return Outcome(
        f"node {node} drained: {len(drained.evicted)} pods evicted",
        {"unschedulable": drained.cordoned.unschedulable_before},
        {"unschedulable": drained.cordoned.unschedulable_after},
        {"evicted": list(drained.evicted), "warnings": list(drained.warnings)},
    )


def _datastore(kind: ActionKind, target: Target, p: Mapping[str, Any], report: Report) -> Outcome:
    if kind == ActionKind.REDIS_FLUSH:
        flushed = datastores.redis_flush(target.url)
        report(f"FLUSHDB: {flushed.keys_before} keys before, {flushed.keys_after} after")
        return Outcome(
            f"{flushed.keys_before} keys deleted", {"keys": flushed.keys_before}, {"keys": flushed.keys_after}
        )
    if kind == ActionKind.REDIS_DELETE_PATTERN:
        deleted = datastores.redis_delete_pattern(
            target.url,
            p["pattern"],
            batch_size=p["batch_size"],
            on_batch=lambda batch, total: report(f"unlinked {batch} keys ({total} so far)"),
        )
        report(f"done: {deleted} keys matching {p['pattern']!r} deleted")
        return Outcome(f"{deleted} keys deleted", result={"deleted": deleted})
    if kind == ActionKind.PG_TERMINATE_BACKEND:
        backend = datastores.pg_terminate_backend(target.url, pid=p["pid"])
        outcome = "terminated" if backend.terminated else "NOT terminated (no permission, or already gone)"
        report(f"pid {backend.pid} ({backend.user}, {backend.application or 'no name'}, {backend.state}): {outcome}")
        if not backend.terminated:
            raise datastores.DataStoreError(f"PostgreSQL did not terminate backend {backend.pid}.")
        return Outcome(f"backend {backend.pid} terminated", result=asdict(backend))
    if kind == ActionKind.PG_VACUUM_ANALYZE:
        report(f"VACUUM (ANALYZE) {p['table']}")
        vacuumed = datastores.pg_vacuum_analyze(target.url, p["table"])
        report(f"dead rows {vacuumed.dead_rows_before} → {vacuumed.dead_rows_after}; size {vacuumed.size_after}")
        return Outcome(
            f"{p['table']} vacuumed and analysed",
            {"dead_rows": vacuumed.dead_rows_before, "size": vacuumed.size_before},
            {"dead_rows": vacuumed.dead_rows_after, "size": vacuumed.size_after},
        )
    connections = datastores.pg_terminate_idle(target.url, idle_minutes=p["idle_minutes"])
    for connection in connections:
        outcome = "terminated" if connection.terminated else "NOT terminated (no permission, or already gone)"
        report(
            f"pid {connection.pid} ({connection.user}@{connection.client}, {connection.application or 'no name'}, "
            f"idle since {connection.idle_since:%H:%M:%S}): {outcome}"
        )
    terminated = sum(connection.terminated for connection in connections)
    listed = [asdict(connection) | {"idle_since": connection.idle_since.isoformat()} for connection in connections]
    return Outcome(
        f"{terminated} idle connections terminated", result={"terminated": terminated, "connections": listed}
    )
