"""The one adapter through which the portal talks to Kubernetes.

Configuration is loaded once per (kubeconfig, context); every call passes a request timeout and returns plain
data, never client models. Call it from Celery tasks or health checks, never inside a database transaction.

Each cluster action follows kubectl's own algorithm (scale, rollout restart/undo/status/history, cordon, drain); the
decisions in them are pure functions on the API server's JSON, tested on their own. Deployments, ReplicaSets and pods
are read as raw JSON (`_preload_content=False`) because the typed client models drop fields this client version does
not know, and a rollback writes a template back. Failures surface as `KubeError`s with a readable message; no
`ApiException` leaves this module. Each action also has a `*_command` giving the equivalent kubectl command line.
"""

import base64
import json
import math
import shlex
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, cast

from django.conf import settings
from kubernetes import client, config, utils, watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
HASH_LABEL = "pod-template-hash"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
# Deployment annotations a rollback keeps from the deployment rather than taking from the ReplicaSet (kubectl).
KEPT_ON_ROLLBACK = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
DRAIN_PAGE_SIZE = 500


class KubeError(Exception):
    """A cluster action failed. `message` reads well on its own; `status` is the API's HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status


class KubernetesNotConfigured(KubeError):
    pass


class KubeUnavailable(KubeError):
    """The API server could not be reached or did not answer in time."""


class KubeForbidden(KubeError):
    """The cluster's RBAC refused the portal's account this verb on this resource."""


class KubeNotFound(KubeError):
    pass


class RevisionNotFound(KubeNotFound):
    pass


class KubeConflict(KubeError):
    """The object changed since it was read (a stale resourceVersion), or a stated precondition did not hold."""


class DeploymentPaused(KubeError):
    pass


class RolloutFailed(KubeError):
    """The deployment exceeded its progress deadline."""


class RolloutTimeout(KubeError):
    pass


class DrainBlocked(KubeError):
    """Pods on the node may not be evicted with the options given (kubectl's drain errors); nothing was evicted."""


class DrainTimeout(KubeError):
    pass


_ERRORS: dict[int, type[KubeError]] = {403: KubeForbidden, 404: KubeNotFound, 409: KubeConflict}
# The kubeconfig context of the cluster being acted on, set by `using_context`; None means KUBE_CONTEXT.
_context: ContextVar[str | None] = ContextVar("kube_context", default=None)


@dataclass(frozen=True)
class ServerVersion:
    git_version: str
    platform: str


@lru_cache(maxsize=8)
def _api_client(config_file: str, context: str | None) -> client.ApiClient:
    loaded = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=config_file, context=context, persist_config=False
    )
    return cast(client.ApiClient, loaded)


@contextmanager
def using_context(context: str | None) -> Iterator[None]:
    """Send the calls made inside the block to this kubeconfig context (one cluster of several); empty keeps
    KUBE_CONTEXT. A context variable rather than an argument on every call, so each action reads as kubectl's."""
    token = _context.set(context or None)
    try:
        yield
    finally:
        _context.reset(token)


def api_client() -> client.ApiClient:
    if not settings.KUBECONFIG:
        raise KubernetesNotConfigured("KUBECONFIG is not set.")
    context = _context.get() or settings.KUBE_CONTEXT
    try:
        return _api_client(settings.KUBECONFIG, context)
    except config.ConfigException as exc:
        where = f" (context {context})" if context else ""
        raise KubernetesNotConfigured(f"KUBECONFIG {settings.KUBECONFIG}{where}: {exc}") from exc


def _timeout() -> float:
    return float(settings.KUBE_REQUEST_TIMEOUT)


def _apps() -> client.AppsV1Api:
    return client.AppsV1Api(api_client())


def _core() -> client.CoreV1Api:
    return client.CoreV1Api(api_client())


def _status_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "")["message"])
    except (TypeError, ValueError, KeyError):
        return f"{exc.status} {exc.reason}"


@contextmanager
def _api_errors() -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        raise _ERRORS.get(exc.status, KubeError)(_status_message(exc), status=exc.status) from exc
    except HTTPError as exc:
        raise KubeUnavailable(f"The Kubernetes API did not answer: {exc}") from exc


def _raw(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Obj:
    """Call the client and return the API server's JSON as it came, without the typed models."""
    with _api_errors():
        response = call(*args, _preload_content=False, _request_timeout=_timeout(), **kwargs)
        try:
            return cast(Obj, json.loads(response.data))
        finally:
            response.release_conn()


def server_version() -> ServerVersion:
    with _api_errors():
        info = client.VersionApi(api_client()).get_code(_request_timeout=_timeout())
    return ServerVersion(git_version=info.git_version, platform=info.platform)


# -- pure decisions on the API server's JSON ---------------------------------------------------------------------------


def _annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("annotations") or {})


def revision_of(obj: Mapping[str, Any]) -> int | None:
    """The `deployment.kubernetes.io/revision` of a ReplicaSet or deployment, if it has a valid one."""
    try:
        return int(_annotations(obj)[REVISION])
    except (KeyError, ValueError):
        return None


def label_selector_string(selector: Mapping[str, Any]) -> str:
    """A LabelSelector (`matchLabels` and `matchExpressions`) in the query form, sorted by key as kubectl sends it."""
    requirements = [(key, f"{key}={value}") for key, value in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        key, values = expression["key"], ",".join(sorted(expression.get("values") or []))
        forms = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }
        if expression["operator"] not in forms:
            raise KubeError(f"{expression['operator']!r} is not a valid label selector operator")
        requirements.append((key, forms[expression["operator"]]))
    return ",".join(text for _, text in sorted(requirements))


def owned_replica_sets(deployment: Mapping[str, Any], replica_sets: Sequence[Obj]) -> list[Obj]:
    """The ReplicaSets the deployment controls: a controller ownerReference with the deployment's uid."""
    uid = deployment["metadata"]["uid"]
    return [
        replica_set
        for replica_set in replica_sets
        if any(
            ref.get("controller") and ref.get("uid") == uid
            for ref in replica_set["metadata"].get("ownerReferences") or []
        )
    ]


def rollback_target(replica_sets: Sequence[Obj], to_revision: int | None, *, deployment_name: str) -> Obj:
    """The ReplicaSet to roll back to: `to_revision` if given, else the second-highest revision (kubectl).

    Not "current - 1": an undo renumbers the ReplicaSet it reuses to max+1, so revision numbers have gaps.
    """
    wanted = to_revision or 0
    if wanted < 0:
        raise RevisionNotFound(f"unable to find specified revision {wanted} in history")
    latest: tuple[int, Obj | None] = (-1, None)
    previous: tuple[int, Obj | None] = (-1, None)
    for replica_set in replica_sets:
        revision = revision_of(replica_set)
        if revision is None:
            continue
        if wanted and wanted == revision:
            return replica_set
        if wanted == 0 and latest[0] < revision:
            latest, previous = (revision, replica_set), latest
        elif wanted == 0 and previous[0] < revision:
            previous = (revision, replica_set)
    if wanted:
        raise RevisionNotFound(f"unable to find specified revision {wanted} in history")
    if previous[1] is None:
        raise RevisionNotFound(f'no rollout history found for deployment "{deployment_name}"')
    return previous[1]


def _semantic(value: Any) -> Any:
    """Empty and missing compare equal, as in apimachinery's semantic equality of typed objects."""
    if isinstance(value, Mapping):
        cleaned = {key: _semantic(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in (None, {}, [], "")}
    if isinstance(value, list):
        return [_semantic(item) for item in value]
    return value


def _without_hash(template: Mapping[str, Any]) -> Obj:
    stripped = json.loads(json.dumps(template))
    stripped.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    return cast(Obj, stripped)


def templates_equal(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Pod templates equal ignoring the `pod-template-hash` label, which only ReplicaSets carry."""
    return bool(_semantic(_without_hash(first)) == _semantic(_without_hash(second)))


def rollback_patch(deployment: Mapping[str, Any], replica_set: Mapping[str, Any]) -> list[Obj]:
    """kubectl's rollback: one JSON Patch replacing the template and the annotations.

    The annotations come from the ReplicaSet (its change-cause, say), except the deployment's own revision and
    last-applied ones, which stay.
    """
    kept = {key: value for key, value in _annotations(deployment).items() if key in KEPT_ON_ROLLBACK}
    taken = {key: value for key, value in _annotations(replica_set).items() if key not in KEPT_ON_ROLLBACK}
    return [
        {"op": "replace", "path": "/spec/template", "value": _without_hash(replica_set["spec"]["template"])},
        {"op": "replace", "path": "/metadata/annotations", "value": {**kept, **taken}},
    ]


def restart_patch(restarted_at: str) -> Obj:
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}}


@dataclass(frozen=True)
class RolloutProgress:
    done: bool
    failed: bool
    message: str


def rollout_progress(deployment: Mapping[str, Any]) -> RolloutProgress:
    """kubectl's rollout status of a deployment; a Progressing condition of ProgressDeadlineExceeded is a failure."""
    name = deployment["metadata"]["name"]
    status, spec = deployment.get("status") or {}, deployment.get("spec") or {}
    if deployment["metadata"].get("generation", 0) > status.get("observedGeneration", 0):
        return RolloutProgress(False, False, "Waiting for deployment spec update to be observed...")
    progressing: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Progressing"), {}
    )
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return RolloutProgress(False, True, f'deployment "{name}" exceeded its progress deadline')
    replicas, updated = status.get("replicas", 0), status.get("updatedReplicas", 0)
    available = status.get("availableReplicas", 0)
    waiting = f'Waiting for deployment "{name}" rollout to finish:'
    if spec.get("replicas") is not None and updated < spec["replicas"]:
        return RolloutProgress(
            False, False, f"{waiting} {updated} out of {spec['replicas']} new replicas have been updated..."
        )
    if replicas > updated:
        return RolloutProgress(False, False, f"{waiting} {replicas - updated} old replicas are pending termination...")
    if available < updated:
        return RolloutProgress(False, False, f"{waiting} {available} of {updated} updated replicas are available...")
    return RolloutProgress(True, False, f'deployment "{name}" successfully rolled out')


def _images(template: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(container.get("image", "") for container in template.get("spec", {}).get("containers") or [])


@dataclass(frozen=True)
class Revision:
    revision: int
    change_cause: str
    images: tuple[str, ...]
    replica_set: str


def rollout_history_of(replica_sets: Sequence[Obj]) -> tuple[Revision, ...]:
    """Revision -> change-cause and images, oldest first; ReplicaSets without a revision are not history."""
    revisions = []
    for replica_set in replica_sets:
        revision = revision_of(replica_set)
        if revision is not None:
            cause = _annotations(replica_set).get(CHANGE_CAUSE, "")
            images = _images(replica_set["spec"]["template"])
            revisions.append(Revision(revision, cause, images, replica_set["metadata"]["name"]))
    return tuple(sorted(revisions, key=lambda entry: entry.revision))


@dataclass(frozen=True)
class PodDeleteStatus:
    """kubectl's verdict on one pod of a node being drained: evict it or not, and why."""

    delete: bool
    reason: Literal["Okay", "Skip", "Warning", "Error"]
    message: str = ""


OKAY = PodDeleteStatus(True, "Okay")
SKIP = PodDeleteStatus(False, "Skip")
DAEMONSET_FATAL = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
DAEMONSET_WARNING = "ignoring DaemonSet-managed Pods"
LOCAL_STORAGE_FATAL = "Pods with local storage (use --delete-emptydir-data to override)"
LOCAL_STORAGE_WARNING = "deleting Pods with local storage"
UNMANAGED_FATAL = "Pods declare no controller (use --force to override)"
UNMANAGED_WARNING = "deleting Pods that declare no controller"


def _controller_of(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((ref for ref in pod["metadata"].get("ownerReferences") or [] if ref.get("controller")), None)


def _finished(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


@dataclass(frozen=True)
class DrainOptions:
    """kubectl drain's --ignore-daemonsets, --delete-emptydir-data and --force."""

    ignore_daemonsets: bool = True
    delete_emptydir_data: bool = False
    force: bool = False


def _skip_deleted(pod: Mapping[str, Any], options: DrainOptions) -> PodDeleteStatus:
    # Already being deleted: kubectl would evict it again and wait; here it is left to finish on its own.
    return SKIP if pod["metadata"].get("deletionTimestamp") else OKAY


def _daemon_set(pod: Mapping[str, Any], options: DrainOptions) -> PodDeleteStatus:
    # kubectl also looks the DaemonSet up so --force can remove orphans; this trusts the owner reference.
    controller = _controller_of(pod)
    if controller is None or controller.get("kind") != "DaemonSet" or _finished(pod):
        return OKAY
    if not options.ignore_daemonsets:
        return PodDeleteStatus(False, "Error", DAEMONSET_FATAL)
    return PodDeleteStatus(False, "Warning", DAEMONSET_WARNING)


def _mirror(pod: Mapping[str, Any], options: DrainOptions) -> PodDeleteStatus:
    return SKIP if MIRROR_ANNOTATION in _annotations(pod) else OKAY


def _local_storage(pod: Mapping[str, Any], options: DrainOptions) -> PodDeleteStatus:
    volumes = (pod.get("spec") or {}).get("volumes") or []
    if not any("emptyDir" in volume for volume in volumes) or _finished(pod):
        return OKAY
    if not options.delete_emptydir_data:
        return PodDeleteStatus(False, "Error", LOCAL_STORAGE_FATAL)
    return PodDeleteStatus(True, "Warning", LOCAL_STORAGE_WARNING)


def _unreplicated(pod: Mapping[str, Any], options: DrainOptions) -> PodDeleteStatus:
    if _finished(pod) or _controller_of(pod) is not None:
        return OKAY
    if options.force:
        return PodDeleteStatus(True, "Warning", UNMANAGED_WARNING)
    return PodDeleteStatus(False, "Error", UNMANAGED_FATAL)


DRAIN_FILTERS = (_skip_deleted, _daemon_set, _mirror, _local_storage, _unreplicated)


def drain_filter(pod: Mapping[str, Any], options: DrainOptions) -> PodDeleteStatus:
    """kubectl's drain filters, in its order: the first that keeps the pod decides, else the last one's verdict."""
    status = OKAY
    for check in DRAIN_FILTERS:
        status = check(pod, options)
        if not status.delete:
            break
    return status


# -- kubectl equivalents, for people ---------------------------------------------------------------------------------


def _kubectl(*args: str) -> str:
    return shlex.join(["kubectl", *args])


def scale_command(
    namespace: str, name: str, replicas: int, *, expected_replicas: int | None = None, dry_run: bool = False
) -> str:
    args = ["-n", namespace, "scale", f"deployment/{name}", f"--replicas={replicas}"]
    if expected_replicas is not None:
        args.append(f"--current-replicas={expected_replicas}")
    return _kubectl(*args, *(["--dry-run=server"] if dry_run else []))


def rollout_restart_command(namespace: str, name: str, *, dry_run: bool = False) -> str:
    return _kubectl(
        "-n", namespace, "rollout", "restart", f"deployment/{name}", *(["--dry-run=server"] if dry_run else [])
    )


def rollout_undo_command(namespace: str, name: str, *, to_revision: int | None = None, dry_run: bool = False) -> str:
    args = ["-n", namespace, "rollout", "undo", f"deployment/{name}"]
    if to_revision:
        args.append(f"--to-revision={to_revision}")
    return _kubectl(*args, *(["--dry-run=server"] if dry_run else []))


def rollout_status_command(namespace: str, name: str, *, timeout_seconds: float) -> str:
    return _kubectl(
        "-n", namespace, "rollout", "status", f"deployment/{name}", f"--timeout={math.ceil(timeout_seconds)}s"
    )


def rollout_history_command(namespace: str, name: str) -> str:
    return _kubectl("-n", namespace, "rollout", "history", f"deployment/{name}")


def cordon_command(node: str) -> str:
    return _kubectl("cordon", node)


def uncordon_command(node: str) -> str:
    return _kubectl("uncordon", node)


def drain_command(
    node: str,
    *,
    grace_period_seconds: int,
    timeout_seconds: float,
    ignore_daemonsets: bool = True,
    delete_emptydir_data: bool = False,
    force: bool = False,
) -> str:
    flags = {"--ignore-daemonsets": ignore_daemonsets, "--delete-emptydir-data": delete_emptydir_data, "--force": force}
    args = ["drain", node, *(flag for flag, wanted in flags.items() if wanted)]
    return _kubectl(*args, f"--grace-period={grace_period_seconds}", f"--timeout={math.ceil(timeout_seconds)}s")


# -- actions -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentState:
    """What a person wants to see of a deployment before and after an action."""

    namespace: str
    name: str
    generation: int
    replicas: int
    revision: int | None
    images: tuple[str, ...]
    paused: bool
    change_cause: str
    restarted_at: str
    observed_generation: int
    updated_replicas: int
    ready_replicas: int
    available_replicas: int


def deployment_state(deployment: Mapping[str, Any]) -> DeploymentState:
    meta, spec, status = deployment["metadata"], deployment.get("spec") or {}, deployment.get("status") or {}
    template = spec.get("template") or {}
    return DeploymentState(
        namespace=meta["namespace"],
        name=meta["name"],
        generation=meta.get("generation", 0),
        replicas=spec.get("replicas", 1),
        revision=revision_of(deployment),
        images=_images(template),
        paused=bool(spec.get("paused")),
        change_cause=_annotations(deployment).get(CHANGE_CAUSE, ""),
        restarted_at=_annotations(template).get(RESTARTED_AT, ""),
        observed_generation=status.get("observedGeneration", 0),
        updated_replicas=status.get("updatedReplicas", 0),
        ready_replicas=status.get("readyReplicas", 0),
        available_replicas=status.get("availableReplicas", 0),
    )


def _dry_run(dry_run: bool) -> str | None:
    return "All" if dry_run else None


@dataclass(frozen=True)
class ScaleResult:
    namespace: str
    name: str
    replicas_before: int
    replicas_after: int
    dry_run: bool


def scale(
    namespace: str, name: str, replicas: int, *, expected_replicas: int | None = None, dry_run: bool = False
) -> ScaleResult:
    """Set a deployment's replicas through its scale subresource.

    With `expected_replicas`, kubectl's precondition: read the scale, refuse if it differs, then replace it with the
    resourceVersion read, so a change in between is a conflict rather than overwritten.
    """
    apps = _apps()
    with _api_errors():
        current = apps.read_namespaced_deployment_scale(name, namespace, _request_timeout=_timeout())
        before = current.spec.replicas if current.spec and current.spec.replicas is not None else 0
        resource_version = current.metadata.resource_version if current.metadata else None
        if expected_replicas is None:
            result = apps.patch_namespaced_deployment_scale(
                name,
                namespace,
                {"spec": {"replicas": replicas}},
                dry_run=_dry_run(dry_run),
                _content_type=MERGE_PATCH,
                _request_timeout=_timeout(),
            )
        else:
            if before != expected_replicas:
                raise KubeConflict(f"Expected replicas to be {expected_replicas}, was {before}")
            body = client.V1Scale(
                metadata=client.V1ObjectMeta(name=name, namespace=namespace, resource_version=resource_version),
                spec=client.V1ScaleSpec(replicas=replicas),
            )
            result = apps.replace_namespaced_deployment_scale(
                name, namespace, body, dry_run=_dry_run(dry_run), _request_timeout=_timeout()
            )
    after = result.spec.replicas if result.spec and result.spec.replicas is not None else 0
    return ScaleResult(namespace, name, before, after, dry_run)


def _read_deployment(namespace: str, name: str) -> Obj:
    return _raw(_apps().read_namespaced_deployment, name, namespace)


def read_deployment(namespace: str, name: str) -> DeploymentState:
    return deployment_state(_read_deployment(namespace, name))


def _replica_sets_of(deployment: Obj) -> list[Obj]:
    selector = label_selector_string(deployment["spec"]["selector"])
    listed = _raw(_apps().list_namespaced_replica_set, deployment["metadata"]["namespace"], label_selector=selector)
    return owned_replica_sets(deployment, listed["items"])


@dataclass(frozen=True)
class RestartResult:
    before: DeploymentState
    after: DeploymentState
    restarted_at: str
    dry_run: bool


def rollout_restart(namespace: str, name: str, *, now: datetime, dry_run: bool = False) -> RestartResult:
    """Stamp `kubectl.kubernetes.io/restartedAt` on the pod template, which rolls every pod."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    deployment = _read_deployment(namespace, name)
    if deployment["spec"].get("paused"):
        raise DeploymentPaused(f"can't restart paused deployment {namespace}/{name} (run rollout resume first)")
    restarted_at = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = _raw(
        _apps().patch_namespaced_deployment,
        name,
        namespace,
        restart_patch(restarted_at),
        dry_run=_dry_run(dry_run),
        _content_type=STRATEGIC_MERGE_PATCH,
    )
    return RestartResult(deployment_state(deployment), deployment_state(after), restarted_at, dry_run)


@dataclass(frozen=True)
class UndoResult:
    before: DeploymentState
    after: DeploymentState
    to_revision: int
    changed: bool
    message: str
    dry_run: bool


def rollout_undo(namespace: str, name: str, *, to_revision: int | None = None, dry_run: bool = False) -> UndoResult:
    """Roll back to `to_revision`, or to the previous revision, exactly as kubectl does."""
    deployment = _read_deployment(namespace, name)
    target = rollback_target(_replica_sets_of(deployment), to_revision, deployment_name=name)
    revision = cast(int, revision_of(target))
    before = deployment_state(deployment)
    if deployment["spec"].get("paused"):
        raise DeploymentPaused(
            "you cannot rollback a paused deployment; resume it first with "
            f"'kubectl rollout resume deployment/{name}' and try again"
        )
    if templates_equal(target["spec"]["template"], deployment["spec"]["template"]):
        message = f"skipped rollback (current template already matches revision {revision})"
        return UndoResult(before, before, revision, False, message, dry_run)
    after = _raw(
        _apps().patch_namespaced_deployment,
        name,
        namespace,
        rollback_patch(deployment, target),
        dry_run=_dry_run(dry_run),
        _content_type=JSON_PATCH,
    )
    return UndoResult(before, deployment_state(after), revision, True, f"rolled back to revision {revision}", dry_run)


def rollout_history(namespace: str, name: str) -> tuple[Revision, ...]:
    return rollout_history_of(_replica_sets_of(_read_deployment(namespace, name)))


@dataclass(frozen=True)
class RolloutStatus:
    deployment: DeploymentState
    message: str


def rollout_status(namespace: str, name: str, *, timeout_seconds: float) -> RolloutStatus:
    """Watch the deployment until its rollout is complete (kubectl's rule), it fails, or the time is up."""
    deadline = time.monotonic() + timeout_seconds
    deployment = _read_deployment(namespace, name)
    progress = rollout_progress(deployment)
    while not progress.done:
        if progress.failed:
            raise RolloutFailed(progress.message)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RolloutTimeout(f"timed out after {timeout_seconds:g}s waiting for the rollout: {progress.message}")
        for event in _watch_deployment(namespace, name, deployment["metadata"]["resourceVersion"], remaining):
            deployment, progress = event, rollout_progress(event)
            if progress.done or progress.failed:
                break
    return RolloutStatus(deployment_state(deployment), progress.message)


def _watch_deployment(namespace: str, name: str, resource_version: str, seconds: float) -> Iterator[Obj]:
    """Changes to one deployment after `resource_version`, for about `seconds`: the server ends the watch, and counts
    in whole seconds, so a deadline may pass by under a second."""
    stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
        _apps().list_namespaced_deployment,
        namespace,
        field_selector=f"metadata.name={name}",
        resource_version=resource_version,
        timeout_seconds=max(1, math.ceil(seconds)),
        # The read timeout covers the server's own, so the stream ends by the server, not by the socket.
        _request_timeout=(_timeout(), seconds + _timeout()),
    )
    with _api_errors(), closing(stream):
        for event in stream:
            if event["type"] == "DELETED":
                raise KubeNotFound(f'deployments.apps "{name}" was deleted')
            if event["type"] in ("ADDED", "MODIFIED"):
                yield cast(Obj, event["raw_object"])


@dataclass(frozen=True)
class NodeResult:
    name: str
    unschedulable_before: bool
    unschedulable_after: bool

    @property
    def changed(self) -> bool:
        return self.unschedulable_before != self.unschedulable_after


def _set_unschedulable(node: str, unschedulable: bool) -> NodeResult:
    core = _core()
    with _api_errors():
        current = core.read_node(node, _request_timeout=_timeout())
        before = bool(current.spec and current.spec.unschedulable)
        if before == unschedulable:
            return NodeResult(node, before, before)
        # Like kubectl, send only the difference: false is the field's absence.
        patch = {"spec": {"unschedulable": True if unschedulable else None}}
        patched = core.patch_node(node, patch, _content_type=STRATEGIC_MERGE_PATCH, _request_timeout=_timeout())
    return NodeResult(node, before, bool(patched.spec and patched.spec.unschedulable))


@dataclass(frozen=True)
class NodeState:
    name: str
    unschedulable: bool
    ready: bool


def _node_state(node: Mapping[str, Any]) -> NodeState:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return NodeState(node["metadata"]["name"], bool((node.get("spec") or {}).get("unschedulable")), ready)


def read_node(name: str) -> NodeState:
    return _node_state(_raw(_core().read_node, name))


def list_nodes() -> list[NodeState]:
    """`kubectl get nodes`, by name."""
    return sorted((_node_state(node) for node in _raw(_core().list_node)["items"]), key=lambda node: node.name)


def cordon(node: str) -> NodeResult:
    return _set_unschedulable(node, True)


def uncordon(node: str) -> NodeResult:
    return _set_unschedulable(node, False)


@dataclass(frozen=True)
class DrainProgress:
    kind: Literal["evicted", "retrying", "gone"]
    pod: str
    message: str


@dataclass(frozen=True)
class DrainResult:
    node: str
    cordoned: NodeResult
    evicted: tuple[str, ...]
    warnings: tuple[str, ...]


def _pod_key(pod: Mapping[str, Any]) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


def _grouped(verdicts: Sequence[tuple[Obj, PodDeleteStatus]], reason: str) -> list[str]:
    pods: dict[str, list[str]] = {}
    for pod, verdict in verdicts:
        if verdict.reason == reason:
            pods.setdefault(verdict.message, []).append(_pod_key(pod))
    return [f"{message}: {', '.join(names)}" for message, names in pods.items()]


def _pods_on(node: str) -> list[Obj]:
    pods: list[Obj] = []
    token: str | None = None
    while True:
        page = _raw(
            _core().list_pod_for_all_namespaces,
            field_selector=f"spec.nodeName={node}",
            limit=DRAIN_PAGE_SIZE,
            _continue=token,
        )
        pods.extend(page["items"])
        token = page["metadata"].get("continue")
        if not token:
            return pods


@dataclass(frozen=True)
class DrainPreview:
    """What a drain would do now: the pods it would evict, kubectl's warnings, and the refusals that stop it."""

    node: str
    unschedulable: bool
    evict: tuple[str, ...]
    warnings: tuple[str, ...]
    errors: tuple[str, ...]


def drain_preview(
    node: str, *, ignore_daemonsets: bool = True, delete_emptydir_data: bool = False, force: bool = False
) -> DrainPreview:
    """`drain`'s decisions on the pods now on the node, changing nothing (for a confirmation before the drain)."""
    state = read_node(node)
    options = DrainOptions(ignore_daemonsets, delete_emptydir_data, force)
    verdicts = [(pod, drain_filter(pod, options)) for pod in _pods_on(node)]
    return DrainPreview(
        node,
        state.unschedulable,
        tuple(_pod_key(pod) for pod, verdict in verdicts if verdict.delete),
        tuple(_grouped(verdicts, "Warning")),
        tuple(_grouped(verdicts, "Error")),
    )


def drain(
    node: str,
    *,
    grace_period_seconds: int,
    timeout_seconds: float,
    ignore_daemonsets: bool = True,
    delete_emptydir_data: bool = False,
    force: bool = False,
    on_progress: Callable[[DrainProgress], None] | None = None,
    poll_seconds: float = 1.0,
) -> DrainResult:
    """kubectl drain: cordon, evict what may go, retry what a PodDisruptionBudget refuses, wait until it is gone.

    Pods are evicted one at a time (kubectl runs them in parallel) within one overall `timeout_seconds`. A negative
    `grace_period_seconds` leaves each pod its own. `poll_seconds` spaces the retries after a 429 and the checks
    for pods still terminating. Refused pods (DaemonSet, local storage, unreplicated, unless allowed) stop
    the drain before anything is evicted, and the node stays cordoned, as with kubectl.
    """
    deadline = time.monotonic() + timeout_seconds
    report = on_progress or (lambda progress: None)
    cordoned = cordon(node)
    options = DrainOptions(ignore_daemonsets, delete_emptydir_data, force)
    verdicts = [(pod, drain_filter(pod, options)) for pod in _pods_on(node)]
    errors = _grouped(verdicts, "Error")
    if errors:
        raise DrainBlocked(f"cannot drain node {node}: " + "; ".join(f"cannot delete {error}" for error in errors))
    delete_options = client.V1DeleteOptions(
        grace_period_seconds=grace_period_seconds if grace_period_seconds >= 0 else None
    )
    evicted: list[Obj] = []
    for pod, verdict in verdicts:
        if verdict.delete and _evict(pod, delete_options, deadline, report, poll_seconds):
            evicted.append(pod)
    _wait_until_gone(evicted, deadline, report, poll_seconds)
    return DrainResult(node, cordoned, tuple(_pod_key(pod) for pod in evicted), tuple(_grouped(verdicts, "Warning")))


def _evict(
    pod: Obj,
    options: client.V1DeleteOptions,
    deadline: float,
    report: Callable[[DrainProgress], None],
    poll_seconds: float,
) -> bool:
    """Evict one pod, retrying while a disruption budget refuses; False if it was already gone."""
    meta, key = pod["metadata"], _pod_key(pod)
    body = client.V1Eviction(
        metadata=client.V1ObjectMeta(name=meta["name"], namespace=meta["namespace"]), delete_options=options
    )
    while True:
        try:
            with _api_errors():
                _core().create_namespaced_pod_eviction(
                    meta["name"], meta["namespace"], body, _request_timeout=_timeout()
                )
        except KubeNotFound:
            report(DrainProgress("gone", key, "already gone"))
            return False
        except KubeError as exc:
            if exc.status != 429:
                raise
            if time.monotonic() + poll_seconds > deadline:
                raise DrainTimeout(f"timed out evicting {key}: {exc.message}") from exc
            report(DrainProgress("retrying", key, f"{exc.message} (retrying in {poll_seconds:g}s)"))
            time.sleep(poll_seconds)
            continue
        report(DrainProgress("evicted", key, "evicted"))
        return True


def _wait_until_gone(
    pods: Sequence[Obj], deadline: float, report: Callable[[DrainProgress], None], poll_seconds: float
) -> None:
    """Until each pod is gone: not found, or its name now belongs to a new pod (another uid)."""
    pending = list(pods)
    while pending:
        still = []
        for pod in pending:
            meta = pod["metadata"]
            try:
                current = _raw(_core().read_namespaced_pod, meta["name"], meta["namespace"])
            except KubeNotFound:
                current = None
            if current is None or current["metadata"]["uid"] != meta["uid"]:
                report(DrainProgress("gone", _pod_key(pod), "deleted"))
            else:
                still.append(pod)
        pending = still
        if pending and time.monotonic() + poll_seconds > deadline:
            raise DrainTimeout("timed out waiting for pods to terminate: " + ", ".join(_pod_key(p) for p in pending))
        if pending:
            time.sleep(poll_seconds)


# -- looking (read-only) ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PodInfo:
    """A row of `kubectl get pods -o wide`."""

    name: str
    ready: str
    status: str
    restarts: int
    node: str
    created_at: str


def pod_status(pod: Mapping[str, Any]) -> str:
    """The STATUS column kubectl prints: a container's waiting or terminated reason (CrashLoopBackOff, OOMKilled)
    over the pod's phase, and Terminating once deletion began."""
    status = pod.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "Unknown")
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated"):
            terminated = state["terminated"]
            reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode', 0)}"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def pod_info(pod: Mapping[str, Any]) -> PodInfo:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    ready = sum(1 for container in statuses if container.get("ready"))
    return PodInfo(
        name=pod["metadata"]["name"],
        ready=f"{ready}/{len(pod.get('spec', {}).get('containers') or [])}",
        status=pod_status(pod),
        restarts=sum(int(container.get("restartCount", 0)) for container in statuses),
        node=str(pod.get("spec", {}).get("nodeName") or "<none>"),
        created_at=str(pod["metadata"].get("creationTimestamp") or ""),
    )


def deployment_selector(namespace: str, name: str) -> str:
    """The label selector of a deployment's pods, as kubectl builds it from `spec.selector`."""
    return label_selector_string(_read_deployment(namespace, name)["spec"]["selector"])


def list_pods(namespace: str, *, selector: str = "") -> list[PodInfo]:
    listed = _raw(_core().list_namespaced_pod, namespace, label_selector=selector or None)
    return sorted((pod_info(pod) for pod in listed["items"]), key=lambda pod: pod.name)


@dataclass(frozen=True)
class EventInfo:
    """A row of `kubectl get events`: when last seen, Normal or Warning, why, about what, and how often."""

    last_seen: str
    type: str
    reason: str
    object: str
    message: str
    count: int


def list_events(namespace: str, *, involving: str = "", limit: int = 50) -> list[EventInfo]:
    """The namespace's latest `limit` events, oldest first; `involving` keeps those about objects whose name starts
    with it (a deployment's name covers its ReplicaSets and pods)."""
    listed = _raw(_core().list_namespaced_event, namespace)
    events = []
    for event in listed["items"]:
        about = event.get("involvedObject") or {}
        if involving and not str(about.get("name", "")).startswith(involving):
            continue
        seen = event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp")
        events.append(
            EventInfo(
                last_seen=str(seen or ""),
                type=str(event.get("type") or ""),
                reason=str(event.get("reason") or ""),
                object=f"{str(about.get('kind', '')).lower()}/{about.get('name', '')}",
                message=str(event.get("message") or ""),
                count=int(event.get("count") or 1),
            )
        )
    return sorted(events, key=lambda event: event.last_seen)[-limit:]


def pod_log(
    namespace: str,
    pod: str,
    *,
    container: str = "",
    tail: int | None = None,
    timestamps: bool = False,
    previous: bool = False,
    limit_bytes: int | None = None,
    timeout: float | None = None,
) -> str:
    """A container's log as the kubelet gives it (`kubectl logs`), at most `limit_bytes`."""
    with _api_errors():
        response: Any = _core().read_namespaced_pod_log(
            pod,
            namespace,
            container=container or None,
            tail_lines=tail,
            timestamps=timestamps,
            previous=previous,
            limit_bytes=limit_bytes,
            _preload_content=False,
            _request_timeout=timeout or _timeout(),
        )
        try:
            return cast(bytes, response.data).decode(errors="replace")
        finally:
            response.release_conn()


@dataclass(frozen=True)
class Usage:
    """A row of `kubectl top`: CPU in millicores and memory in bytes, with shares of what a node can allocate."""

    name: str
    cpu_millicores: int
    memory_bytes: int
    cpu_percent: int | None = None
    memory_percent: int | None = None


def _millicores(quantity: str) -> int:
    return int(math.ceil(utils.parse_quantity(quantity) * 1000))  # type: ignore[no-untyped-call]


def _bytes(quantity: str) -> int:
    return int(utils.parse_quantity(quantity))  # type: ignore[no-untyped-call]


def top_pods(namespace: str, *, selector: str = "") -> list[Usage]:
    listed = _raw(
        client.CustomObjectsApi(api_client()).list_namespaced_custom_object,
        "metrics.k8s.io", "v1beta1", namespace, "pods", label_selector=selector or None,
    )  # fmt: skip
    rows = []
    for item in listed["items"]:
        containers = item.get("containers") or []
        cpu = sum(_millicores(container["usage"]["cpu"]) for container in containers)
        memory = sum(_bytes(container["usage"]["memory"]) for container in containers)
        rows.append(Usage(item["metadata"]["name"], cpu, memory))
    return sorted(rows, key=lambda row: row.name)


def top_nodes() -> list[Usage]:
    """Node usage against each node's allocatable CPU and memory, as `kubectl top nodes` prints it."""
    listed = _raw(
        client.CustomObjectsApi(api_client()).list_cluster_custom_object, "metrics.k8s.io", "v1beta1", "nodes"
    )
    allocatable = {
        node["metadata"]["name"]: (node.get("status") or {}).get("allocatable") or {}
        for node in _raw(_core().list_node)["items"]
    }
    rows = []
    for item in listed["items"]:
        name = item["metadata"]["name"]
        cpu, memory = _millicores(item["usage"]["cpu"]), _bytes(item["usage"]["memory"])
        limits = allocatable.get(name, {})
        cpu_of = _millicores(limits["cpu"]) if limits.get("cpu") else 0
        memory_of = _bytes(limits["memory"]) if limits.get("memory") else 0
        rows.append(
            Usage(
                name, cpu, memory,
                cpu_percent=cpu * 100 // cpu_of if cpu_of else None,
                memory_percent=memory * 100 // memory_of if memory_of else None,
            )
        )  # fmt: skip
    return sorted(rows, key=lambda row: row.name)


def rollout_status_now(namespace: str, name: str) -> RolloutStatus:
    """`kubectl rollout status --watch=false`: where the rollout stands, without waiting."""
    deployment = _read_deployment(namespace, name)
    return RolloutStatus(deployment_state(deployment), rollout_progress(deployment).message)


# -- secrets (values go in, never come out) -------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretKeys:
    """What may be shown of a Secret: its keys, never their values."""

    namespace: str
    name: str
    keys: tuple[str, ...]
    exists: bool


def secret_keys(namespace: str, name: str) -> SecretKeys:
    try:
        secret = _raw(_core().read_namespaced_secret, name, namespace)
    except KubeNotFound:
        return SecretKeys(namespace, name, (), False)
    return SecretKeys(namespace, name, tuple(sorted(secret.get("data") or {})), True)


@dataclass(frozen=True)
class SecretSet:
    namespace: str
    name: str
    key: str
    created: bool
    replaced: bool
    keys: tuple[str, ...]


def secret_set_key(namespace: str, name: str, key: str, value: str) -> SecretSet:
    """Set one key of a Secret (creating the Secret if there is none), leaving its other keys as they are: a merge
    patch of `data`, unlike the seeds' `create secret --dry-run | apply`, which would drop the other keys."""
    encoded = base64.b64encode(value.encode()).decode()
    before = secret_keys(namespace, name)
    if not before.exists:
        body = {"metadata": {"name": name, "namespace": namespace}, "type": "Opaque", "data": {key: encoded}}
        created = _raw(_core().create_namespaced_secret, namespace, body)
        return SecretSet(namespace, name, key, True, False, tuple(sorted(created.get("data") or {})))
    patched = _raw(
        _core().patch_namespaced_secret, name, namespace, {"data": {key: encoded}}, _content_type=MERGE_PATCH
    )
    return SecretSet(namespace, name, key, False, key in before.keys, tuple(sorted(patched.get("data") or {})))


def uses_secret(template: Mapping[str, Any], secret: str) -> bool:
    """Whether a pod template reads the Secret: env valueFrom, envFrom, a volume or a projected volume."""
    spec = template.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for env in container.get("env") or []:
            if ((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") == secret:
                return True
        for source in container.get("envFrom") or []:
            if (source.get("secretRef") or {}).get("name") == secret:
                return True
    for volume in spec.get("volumes") or []:
        if (volume.get("secret") or {}).get("secretName") == secret:
            return True
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (source.get("secret") or {}).get("name") == secret:
                return True
    return False


def deployments_using_secret(namespace: str, secret: str) -> list[str]:
    listed = _raw(_apps().list_namespaced_deployment, namespace)
    return sorted(
        item["metadata"]["name"] for item in listed["items"] if uses_secret(item["spec"].get("template") or {}, secret)
    )


def secret_set_command(namespace: str, name: str, key: str) -> str:
    """What a person would type: the value is never part of it."""
    patch = json.dumps({"data": {key: "<base64 of the new value>"}})
    return _kubectl("-n", namespace, "patch", "secret", name, "--type=merge", "-p", patch)
