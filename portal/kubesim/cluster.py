"""The simulated cluster: objects kept as the API server's JSON, the server's write rules, and a controller.

Writes follow the API server: every stored change takes the next `resourceVersion`, a stale one is a 409, a no-op
write stores nothing, `metadata.generation` moves only when the spec does, status is not writable through the main
resource, and `dryRun=All` runs everything but the store. Errors are `ApiError`s that the HTTP layer sends as
`Status` bodies.

`step()` is one deterministic pass of the controllers, run after every write and whenever a test asks:

- deployment controller: reuses the owned ReplicaSet whose template equals the deployment's semantically (ignoring
  `pod-template-hash`, and empty or null fields such as the `creationTimestamp: null` kubectl's `rollout undo`
  sends), renumbering it to max+1 as an undo does, or creates one at max+1; copies the deployment's
  annotations (e.g. `kubernetes.io/change-cause`) onto it; scales old ReplicaSets down as new pods become available
  (a rolling update with maxSurge 100% and maxUnavailable 0, whatever the strategy says); keeps
  `revisionHistoryLimit` old ReplicaSets; honours `spec.paused`; writes status and the Available and Progressing
  conditions, including `ProgressDeadlineExceeded` once the cluster's clock passes `progressDeadlineSeconds`;
- replica set and DaemonSet controllers (one pod per node, cordoned ones included), scheduler (the schedulable node
  with the fewest pods) and kubelet (a scheduled pod starts Running and Ready at once, with container statuses, or
  stays Pending while `hold_pods` is set, so rollouts lag and disruption budgets see unready replacements);
  `minReadySeconds` is not modelled: ready is available;
- terminating pods (evicted or deleted with a grace period) disappear at the step after the one that follows their
  deletion; node taints follow `spec.unschedulable`; PodDisruptionBudget status follows the pods.

Each controller records the Events its real counterpart records (ScalingReplicaSet, SuccessfulCreate, Scheduled,
Pulled/Created/Started, Killing, NodeNotSchedulable, ...), a repeat counting up; they expire an hour after they last
happened. Namespaces appear when something is first created in them.
"""

import base64
import copy
import hashlib
import itertools
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from portal.kubesim.patching import PatchError, apply_patch
from portal.kubesim.selectors import (
    SelectorError,
    fields_match,
    label_selector_requirements,
    label_selector_string,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)

Obj = dict[str, Any]

# The version the simulated API server and kubelets report: clearly not a real cluster's.
GIT_VERSION = "v1.31.0+portal-simulator"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
HASH_LABEL = "pod-template-hash"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
# The deployment controller does not copy these deployment annotations onto its ReplicaSets.
NOT_COPIED_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
# The alphabet Kubernetes uses for generated name suffixes: no vowels, no look-alike characters.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_TYPE_META = frozenset({"kind", "apiVersion"})
EVENT_TTL = timedelta(hours=1)
_SCALE_METADATA = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")


READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True)
class Resource:
    """A resource type as the API serves it, and as discovery describes it to clients such as kubectl."""

    plural: str
    kind: str
    group: str
    api_version: str
    field_selectors: frozenset[str]
    namespaced: bool = True
    verbs: tuple[str, ...] = READ_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def prefix(self) -> str:
        """The URL path its group version lives under: `api/v1` or `apis/GROUP/VERSION`."""
        return "api/v1" if not self.group else f"apis/{self.api_version}"


_NAME_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
_EVENT_FIELDS = (
    _NAME_FIELDS
    | {
        f"involvedObject.{field}"
        for field in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    }
    | {"reason", "type", "reportingComponent"}
)
RESOURCES = {
    resource.plural: resource
    for resource in (
        Resource(
            "deployments", "Deployment", "apps", "apps/v1", _NAME_FIELDS,
            verbs=(*READ_VERBS, "patch", "update"), short_names=("deploy",), categories=("all",),
        ),
        Resource(
            "replicasets", "ReplicaSet", "apps", "apps/v1", _NAME_FIELDS | {"status.replicas"},
            short_names=("rs",), categories=("all",),
        ),
        Resource("daemonsets", "DaemonSet", "apps", "apps/v1", _NAME_FIELDS, short_names=("ds",), categories=("all",)),
        Resource(
            "pods", "Pod", "", "v1", _NAME_FIELDS | {"spec.nodeName", "status.phase", "spec.restartPolicy"},
            verbs=(*READ_VERBS, "delete"), short_names=("po",), categories=("all",),
        ),
        Resource(
            "nodes", "Node", "", "v1", frozenset({"metadata.name", "spec.unschedulable"}),
            namespaced=False, verbs=(*READ_VERBS, "patch"), short_names=("no",),
        ),
        Resource("services", "Service", "", "v1", _NAME_FIELDS, short_names=("svc",), categories=("all",)),
        Resource("secrets", "Secret", "", "v1", _NAME_FIELDS | {"type"}, verbs=(*READ_VERBS, "create", "patch")),
        Resource("events", "Event", "", "v1", _EVENT_FIELDS, short_names=("ev",)),
        Resource(
            "namespaces", "Namespace", "", "v1", frozenset({"metadata.name", "status.phase"}),
            namespaced=False, short_names=("ns",),
        ),
        Resource("poddisruptionbudgets", "PodDisruptionBudget", "policy", "policy/v1", _NAME_FIELDS,
                 short_names=("pdb",)),
    )
}  # fmt: skip

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
}


class ApiError(Exception):
    def __init__(self, code: int, message: str, *, details: Obj | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def status(self) -> Obj:
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": _REASONS[self.code],
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def not_found(resource: Resource, name: str) -> ApiError:
    details = {"name": name, "group": resource.group, "kind": resource.plural}
    return ApiError(404, f'{resource.qualified} "{name}" not found', details=details)


def _conflict(resource: Resource, name: str) -> ApiError:
    message = (
        f'Operation cannot be fulfilled on {resource.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return ApiError(409, message, details={"name": name, "group": resource.group, "kind": resource.plural})


def _invalid(kind: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    summary = ", ".join(f"{field}: {message}" for field, message in causes)
    details = {
        "name": name,
        "kind": kind.split(".")[0],
        "causes": [{"reason": "FieldValueInvalid", "field": field, "message": message} for field, message in causes],
    }
    return ApiError(422, f'{kind} "{name}" is invalid: {summary}', details=details)


def _secret_data(secret: Obj) -> dict[str, str]:
    """`data` with `stringData` folded in (base64-encoded), every value checked to be base64, as the API server does."""
    data = dict(secret.get("data") or {})
    for key, value in (secret.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    name = secret.get("metadata", {}).get("name", "")
    for key, value in data.items():
        if not re.fullmatch(r"[-._a-zA-Z0-9]+", key):
            raise _invalid("Secret", name, [(f"data[{key}]", "Invalid value: a valid config key must consist of "
                                             "alphanumeric characters, '-', '_' or '.'")])  # fmt: skip
        try:
            base64.b64decode(str(value), validate=True)
        except ValueError as exc:
            raise ApiError(400, f"Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at "
                                f"input byte (data[{key}])") from exc  # fmt: skip
    return data


class ManualClock:
    """A clock that only moves when told, so tests reach controller deadlines without waiting."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class _Event:
    resource_version: int
    resource: str
    type: str
    obj: Obj


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _encode(seed: str, length: int) -> str:
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_NAME_ALPHABET))
        chars.append(_NAME_ALPHABET[index])
    return "".join(chars)


def _revision(obj: Obj) -> int:
    try:
        return int(obj["metadata"].get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _semantic(value: Any) -> Any:
    """Empty, null and missing compare equal, as in apimachinery's semantic equality of typed objects: a template
    written back by a client (kubectl's `rollout undo` sends `creationTimestamp: null`) equals the stored one."""
    if isinstance(value, dict):
        cleaned = {key: _semantic(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in (None, {}, [], "")}
    if isinstance(value, list):
        return [_semantic(item) for item in value]
    return value


def _without_hash(template: Obj) -> Obj:
    """The template as the deployment controller compares it: semantically, without the `pod-template-hash` label."""
    stripped = copy.deepcopy(template)
    stripped.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    return cast(Obj, _semantic(stripped))


def _controller_uid(obj: Obj) -> str | None:
    for reference in obj["metadata"].get("ownerReferences", []):
        if reference.get("controller"):
            return str(reference.get("uid"))
    return None


def _owner_reference(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _ready(pod: Obj) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _terminating(obj: Obj) -> bool:
    return "deletionTimestamp" in obj["metadata"]


def _namespace(name: str) -> Obj:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _digest(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def _running(container: Obj, pod_uid: str, restarts: int, started: str) -> Obj:
    """A container's status as the kubelet reports it once the container runs."""
    image = str(container["image"])
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return {
        "name": container["name"],
        "state": {"running": {"startedAt": started}},
        "lastState": {},
        "ready": True,
        "restartCount": restarts,
        "image": image,
        "imageID": f"{repository}@sha256:{_digest('image', image)}",
        "containerID": f"containerd://{_digest(pod_uid, container['name'], restarts)}",
        "started": True,
    }


def _default_pod_spec(spec: Obj) -> None:
    """The defaults the API server fills in, so templates read back exactly as a real server returns them."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        untagged = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if untagged else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})


def _default_deployment(deployment: Obj) -> None:
    spec = deployment.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        _default_pod_spec(template["spec"])


def _validate_deployment(deployment: Obj, current: Obj | None) -> None:
    spec, name = deployment.get("spec"), deployment["metadata"]["name"]
    causes: list[tuple[str, str]] = []
    if not isinstance(spec, dict):
        raise _invalid("Deployment.apps", name, [("spec", "Required value")])
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        causes.append(("spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0"))
    if not isinstance(spec.get("paused", False), bool):
        causes.append(("spec.paused", "Invalid value: must be a boolean"))
    selector, requirements = spec.get("selector"), None
    try:
        if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            raise SelectorError("empty selector is invalid for deployment")
        requirements = label_selector_requirements(selector)
    except SelectorError as exc:
        causes.append(("spec.selector", f"Invalid value: {exc}"))
    template: Obj = spec["template"] if isinstance(spec.get("template"), dict) else {}
    labels = template.get("metadata", {}).get("labels", {})
    if requirements is not None and not labels_match(requirements, labels):
        causes.append(("spec.template.metadata.labels", "Invalid value: `selector` does not match template `labels`"))
    containers = template.get("spec", {}).get("containers")
    if not containers or not all(isinstance(c, dict) and c.get("name") and c.get("image") for c in containers):
        causes.append(("spec.template.spec.containers", "Required value: each container needs a name and an image"))
    if current is not None and selector != current["spec"]["selector"]:
        causes.append(("spec.selector", "Invalid value: field is immutable"))
    if causes:
        raise _invalid("Deployment.apps", name, causes)


class Cluster:
    """The objects of a simulated cluster. Thread-safe: the HTTP server calls it from many threads."""

    def __init__(self, *, clock: Callable[[], datetime] | None = None, history: int = 1000):
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self.hold_pods = False
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {plural: {} for plural in RESOURCES}
        self._events: deque[_Event] = deque(maxlen=history)
        self._resource_version = 0
        self._serial = itertools.count(1)
        self._steps = 0
        # Pods being deleted with a grace period, and the step number after which they are gone.
        self._leaving: dict[tuple[str, str], int] = {}
        # Pods whose first container keeps crashing: (namespace, name) -> (seconds between crashes, reason, exit code).
        self._crash_loops: dict[tuple[str, str], tuple[float, str, int]] = {}
        self._event_serial = itertools.count(1)
        # What makes events the same (the correlator's key) -> where the event is stored.
        self._event_keys: dict[tuple[str, ...], tuple[str, str]] = {}
        self._addresses = itertools.count(0)

    # -- storage ---------------------------------------------------------------------------------------------------

    def _now(self) -> str:
        return timestamp(self.clock())

    def _find(self, plural: str, namespace: str, name: str) -> Obj:
        found = self._objects[plural].get((namespace, name))
        if found is None:
            raise not_found(RESOURCES[plural], name)
        return found

    def _commit(self, plural: str, obj: Obj, event: str) -> Obj:
        self._resource_version += 1
        stored = copy.deepcopy(obj)
        stored["metadata"]["resourceVersion"] = str(self._resource_version)
        key = (stored["metadata"].get("namespace", ""), stored["metadata"]["name"])
        if event == "DELETED":
            del self._objects[plural][key]
        else:
            self._objects[plural][key] = stored
        self._events.append(_Event(self._resource_version, plural, event, copy.deepcopy(stored)))
        self._changed.notify_all()
        return copy.deepcopy(stored)

    def _create(self, plural: str, obj: Obj) -> Obj:
        resource = RESOURCES[plural]
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace", ""), meta["name"])
        if key in self._objects[plural]:
            raise ApiError(409, f'{resource.qualified} "{meta["name"]}" already exists')
        if resource.namespaced and ("", key[0]) not in self._objects["namespaces"]:
            self._create("namespaces", _namespace(key[0]))
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        meta["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"portal-simulator/{plural}/{key}/{next(self._serial)}"))
        meta["creationTimestamp"] = self._now()
        if plural in {"deployments", "replicasets", "daemonsets", "poddisruptionbudgets"}:
            meta["generation"] = 1
        return self._commit(plural, obj, "ADDED")

    def _update(self, plural: str, current: Obj, updated: Obj) -> Obj:
        """Store `updated` unless it equals `current`: like etcd, the API server skips writes that change nothing."""
        if updated == current:
            return copy.deepcopy(current)
        return self._commit(plural, updated, "MODIFIED")

    def _sorted(self, plural: str) -> list[Obj]:
        return [self._objects[plural][key] for key in sorted(self._objects[plural])]

    @staticmethod
    def _check_identity(body: Obj, namespace: str, name: str) -> None:
        meta = body.get("metadata") or {}
        if meta.get("name", name) != name:
            raise ApiError(400, f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if meta.get("namespace", namespace) != namespace:
            raise ApiError(400, "the namespace of the provided object does not match the namespace sent on the request")
        given = meta.get("resourceVersion")
        if given is not None and not isinstance(given, str):
            raise ApiError(400, f"resourceVersion must be a string, got {given!r}")

    # -- reads -------------------------------------------------------------------------------------------------------

    def get(self, plural: str, namespace: str, name: str) -> Obj:
        with self.lock:
            return copy.deepcopy(self._find(plural, namespace, name))

    def list_objects(
        self,
        plural: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> Obj:
        resource = RESOURCES[plural]
        matching = self._matcher(resource, namespace, label_selector, field_selector)
        start_after = self._decode_continue(continue_token) if continue_token else None
        with self.lock:
            keys = [key for key in sorted(self._objects[plural]) if start_after is None or key > start_after]
            items = [self._objects[plural][key] for key in keys if matching(self._objects[plural][key])]
            metadata: Obj = {"resourceVersion": str(self._resource_version)}
            if limit and limit > 0 and len(items) > limit:
                last = items[limit - 1]["metadata"]
                metadata["continue"] = self._encode_continue((last.get("namespace", ""), last["name"]))
                metadata["remainingItemCount"] = len(items) - limit
                items = items[:limit]
            # Items of a list carry no kind or apiVersion of their own, as from a real API server.
            listed = [{k: copy.deepcopy(v) for k, v in item.items() if k not in _TYPE_META} for item in items]
        kind = f"{resource.kind}List"
        return {"kind": kind, "apiVersion": resource.api_version, "metadata": metadata, "items": listed}

    @staticmethod
    def _encode_continue(key: tuple[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()

    @staticmethod
    def _decode_continue(token: str) -> tuple[str, str]:
        try:
            namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
        except (ValueError, TypeError) as exc:
            raise ApiError(400, "continue key is not valid") from exc
        return str(namespace), str(name)

    @staticmethod
    def _matcher(
        resource: Resource, namespace: str | None, label_selector: str, field_selector: str
    ) -> Callable[[Obj], bool]:
        try:
            labels = parse_label_selector(label_selector)
            fields = parse_field_selector(field_selector, resource.field_selectors)
        except SelectorError as exc:
            raise ApiError(400, str(exc)) from exc

        def matches(obj: Obj) -> bool:
            meta = obj["metadata"]
            return (
                (namespace is None or meta.get("namespace") == namespace)
                and labels_match(labels, meta.get("labels"))
                and fields_match(fields, obj)
            )

        return matches

    def watch(
        self,
        plural: str,
        *,
        namespace: str | None,
        label_selector: str,
        field_selector: str,
        resource_version: str | None,
        timeout_seconds: float,
    ) -> Iterator[Obj]:
        """Watch events for matching objects until the timeout.

        Without a resourceVersion (or with "0") the current objects come first as ADDED; with one, the changes
        after it are replayed from the event history, or a 410 says it is too old. Checks happen here, before the
        first event, so the HTTP layer can still answer them as errors.
        """
        resource = RESOURCES[plural]
        matching = self._matcher(resource, namespace, label_selector, field_selector)
        deadline = time.monotonic() + timeout_seconds
        with self.lock:
            if resource_version in (None, "", "0"):
                since = self._resource_version
                initial = [{"type": "ADDED", "object": copy.deepcopy(o)} for o in self._sorted(plural) if matching(o)]
            else:
                try:
                    since = int(str(resource_version))
                except ValueError as exc:
                    raise ApiError(400, f"invalid resourceVersion {resource_version!r}") from exc
                oldest = self._events[0].resource_version if self._events else self._resource_version + 1
                if since < oldest - 1:
                    raise ApiError(410, f"too old resource version: {since} ({oldest - 1})")
                initial = []
        return self._follow(plural, matching, since, deadline, initial)

    def _follow(
        self, plural: str, matching: Callable[[Obj], bool], since: int, deadline: float, initial: list[Obj]
    ) -> Iterator[Obj]:
        yield from initial
        while True:
            with self._changed:
                pending = [event for event in self._events if event.resource_version > since]
                if not pending:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    self._changed.wait(remaining)
                    continue
                since = pending[-1].resource_version
            for event in pending:
                if event.resource == plural and matching(event.obj):
                    yield {"type": event.type, "object": copy.deepcopy(event.obj)}

    # -- deployments -------------------------------------------------------------------------------------------------

    def create_deployment(self, manifest: Obj) -> Obj:
        with self.lock:
            deployment = copy.deepcopy(manifest)
            deployment.setdefault("metadata", {}).setdefault("namespace", "default")
            deployment["status"] = {}
            _default_deployment(deployment)
            _validate_deployment(deployment, None)
            created = self._create("deployments", deployment)
            self.step()
            return created

    def patch_deployment(
        self, namespace: str, name: str, content_type: str, patch: Any, *, dry_run: bool = False
    ) -> Obj:
        with self.lock:
            current = self._find("deployments", namespace, name)
            return self._write_deployment(current, self._patched(current, patch, content_type), dry_run)

    def replace_deployment(self, namespace: str, name: str, body: Obj, *, dry_run: bool = False) -> Obj:
        with self.lock:
            return self._write_deployment(self._find("deployments", namespace, name), body, dry_run)

    @staticmethod
    def _patched(current: Obj, patch: Any, content_type: str) -> Obj:
        try:
            return apply_patch(copy.deepcopy(current), patch, content_type)
        except PatchError as exc:
            raise ApiError(422, str(exc)) from exc

    def _write_deployment(self, current: Obj, body: Obj, dry_run: bool) -> Obj:
        resource, meta = RESOURCES["deployments"], current["metadata"]
        self._check_identity(body, meta["namespace"], meta["name"])
        given = body.get("metadata", {}).get("resourceVersion")
        if given and given != meta["resourceVersion"]:
            raise _conflict(resource, meta["name"])
        updated = copy.deepcopy(body)
        updated["apiVersion"], updated["kind"] = resource.api_version, resource.kind
        kept = ("name", "namespace", "uid", "creationTimestamp", "generation", "resourceVersion")
        updated.setdefault("metadata", {}).update({key: meta[key] for key in kept})
        updated["status"] = copy.deepcopy(current["status"])
        _default_deployment(updated)
        _validate_deployment(updated, current)
        if updated["spec"] != current["spec"]:
            updated["metadata"]["generation"] += 1
        if dry_run:
            return updated
        written = self._update("deployments", current, updated)
        self.step()
        return written

    def _scale_of(self, deployment: Obj) -> Obj:
        meta = deployment["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {key: meta[key] for key in _SCALE_METADATA},
            "spec": {"replicas": deployment["spec"]["replicas"]},
            "status": {
                "replicas": deployment["status"].get("replicas", 0),
                "selector": label_selector_string(deployment["spec"]["selector"]),
            },
        }

    def get_scale(self, namespace: str, name: str) -> Obj:
        with self.lock:
            return self._scale_of(self._find("deployments", namespace, name))

    def patch_scale(self, namespace: str, name: str, content_type: str, patch: Any, *, dry_run: bool = False) -> Obj:
        with self.lock:
            deployment = self._find("deployments", namespace, name)
            patched = self._patched(self._scale_of(deployment), patch, content_type)
            return self._write_scale(deployment, patched, dry_run)

    def replace_scale(self, namespace: str, name: str, body: Obj, *, dry_run: bool = False) -> Obj:
        with self.lock:
            return self._write_scale(self._find("deployments", namespace, name), body, dry_run)

    def _write_scale(self, deployment: Obj, scale: Obj, dry_run: bool) -> Obj:
        resource, meta = RESOURCES["deployments"], deployment["metadata"]
        self._check_identity(scale, meta["namespace"], meta["name"])
        given = scale.get("metadata", {}).get("resourceVersion")
        if given and given != meta["resourceVersion"]:
            raise _conflict(resource, meta["name"])
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            message = f"Invalid value: {replicas!r}: must be greater than or equal to 0"
            raise _invalid("Scale.autoscaling", meta["name"], [("spec.replicas", message)])
        updated = copy.deepcopy(deployment)
        updated["spec"]["replicas"] = replicas
        return self._scale_of(self._write_deployment(deployment, updated, dry_run))

    # -- nodes -------------------------------------------------------------------------------------------------------

    def add_node(self, name: str, *, labels: dict[str, str] | None = None, unschedulable: bool = False) -> Obj:
        with self.lock:
            number = len(self._objects["nodes"]) + 1
            now = self._now()
            capacity = {"cpu": "4", "memory": "16Gi", "pods": "110"}
            node = {
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
                "spec": {"unschedulable": True} if unschedulable else {},
                "status": {
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "KubeletReady",
                            "message": "kubelet is posting ready status (simulated)",
                            "lastHeartbeatTime": now,
                            "lastTransitionTime": now,
                        }
                    ],
                    "addresses": [
                        {"type": "InternalIP", "address": f"10.0.0.{number}"},
                        {"type": "Hostname", "address": name},
                    ],
                    "capacity": capacity,
                    "allocatable": dict(capacity),
                    "nodeInfo": {
                        "machineID": _digest("machine", name)[:32],
                        "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"portal-simulator/node/{name}")),
                        "bootID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"portal-simulator/boot/{name}")),
                        "kernelVersion": "6.1.0-simulated",
                        "osImage": "Simulated node (portal/kubesim)",
                        "containerRuntimeVersion": "containerd://1.7.0-simulated",
                        "kubeletVersion": GIT_VERSION,
                        "kubeProxyVersion": GIT_VERSION,
                        "operatingSystem": "linux",
                        "architecture": "amd64",
                    },
                },
            }
            created = self._create("nodes", node)
            self.step()
            return created

    def patch_node(self, name: str, content_type: str, patch: Any, *, dry_run: bool = False) -> Obj:
        with self.lock:
            resource, current = RESOURCES["nodes"], self._find("nodes", "", name)
            updated = self._patched(current, patch, content_type)
            self._check_identity(updated, "", name)
            given = updated.get("metadata", {}).get("resourceVersion")
            if given and given != current["metadata"]["resourceVersion"]:
                raise _conflict(resource, name)
            for key in ("uid", "creationTimestamp", "resourceVersion", "name"):
                updated["metadata"][key] = current["metadata"][key]
            updated["status"] = copy.deepcopy(current["status"])
            if not isinstance(updated.get("spec", {}).get("unschedulable", False), bool):
                raise _invalid("Node", name, [("spec.unschedulable", "Invalid value: must be a boolean")])
            if dry_run:
                return updated
            written = self._update("nodes", current, updated)
            self.step()
            return written

    # -- pods, evictions and disruption budgets ----------------------------------------------------------------------

    def add_pod(self, manifest: Obj) -> Obj:
        """A pod no controller here manages (seeded DaemonSet, mirror or bare pods), running on its node."""
        with self.lock:
            pod = copy.deepcopy(manifest)
            pod.setdefault("metadata", {}).setdefault("namespace", "default")
            _default_pod_spec(pod.setdefault("spec", {}))
            pod["status"] = {"phase": "Pending"}
            created = self._create("pods", pod)
            self._start(self._find("pods", created["metadata"]["namespace"], created["metadata"]["name"]))
            return self.get("pods", created["metadata"]["namespace"], created["metadata"]["name"])

    def restart_container(self, namespace: str, name: str, *, reason: str = "Error", exit_code: int = 1) -> Obj:
        """The kubelet restarting the pod's first container after it exited (`reason` "OOMKilled", say): RESTARTS
        counts it, and `kubectl logs --previous` reads the run that ended."""
        with self.lock:
            pod = self._find("pods", namespace, name)
            statuses = pod["status"].get("containerStatuses")
            if not statuses:
                raise ApiError(400, f'container in pod "{name}" is not running')
            restarted = copy.deepcopy(pod)
            last = statuses[0]
            container = next(c for c in pod["spec"]["containers"] if c["name"] == last["name"])
            now = self._now()
            fresh = _running(container, pod["metadata"]["uid"], last["restartCount"] + 1, now)
            fresh["lastState"] = {
                "terminated": {
                    "exitCode": exit_code,
                    "reason": reason,
                    "startedAt": last["state"]["running"]["startedAt"],
                    "finishedAt": now,
                    "containerID": last["containerID"],
                }
            }
            restarted["status"]["containerStatuses"][0] = fresh
            stored = self._commit("pods", restarted, "MODIFIED")
            self._record_start(stored, container)
            return stored

    def crash_loop(
        self, namespace: str, name: str, *, every: float = 60, reason: str = "Error", exit_code: int = 1
    ) -> Obj:
        """Make the pod's first container crash a few seconds after each start, as the kubelet reports it: waiting
        in CrashLoopBackOff, not ready, the last run in `lastState` (what `logs --previous` reads), RESTARTS
        counting; the controller crashes it again every `every` seconds of the cluster's time."""
        with self.lock:
            self._crash_loops[(namespace, name)] = (every, reason, exit_code)
            return self._crash(namespace, name)

    def _crash(self, namespace: str, name: str) -> Obj:
        pod = self._find("pods", namespace, name)
        statuses = pod["status"].get("containerStatuses")
        if not statuses:
            raise ApiError(400, f'container in pod "{name}" is not running')
        _, reason, exit_code = self._crash_loops[(namespace, name)]
        crashed, last = copy.deepcopy(pod), statuses[0]
        container = next(c for c in pod["spec"]["containers"] if c["name"] == last["name"])
        now = self.clock()
        restarts = last["restartCount"] + 1
        attempt = _running(container, pod["metadata"]["uid"], restarts, timestamp(now - timedelta(seconds=4)))
        attempt["state"] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off restarting failed container {container['name']} in pod {name}",
            }
        }
        attempt["lastState"] = {
            "terminated": {
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": timestamp(now - timedelta(seconds=4)),
                "finishedAt": timestamp(now),
                "containerID": attempt["containerID"],
            }
        }
        attempt["ready"], attempt["started"] = False, False
        crashed["status"]["containerStatuses"][0] = attempt
        crashed["status"]["conditions"] = [
            {**condition, "status": "False", "lastTransitionTime": timestamp(now)}
            if condition["type"] in ("Ready", "ContainersReady")
            else condition
            for condition in crashed["status"].get("conditions", [])
        ]
        stored = self._commit("pods", crashed, "MODIFIED")
        self._record(
            stored, "Warning", "BackOff", f"Back-off restarting failed container {container['name']} in pod {name}",
            "kubelet", host=pod["spec"].get("nodeName", ""), field_path=f"spec.containers{{{container['name']}}}",
        )  # fmt: skip
        return stored

    def _crash_again(self) -> None:
        for (namespace, name), (every, _, _) in list(self._crash_loops.items()):
            pod = self._objects["pods"].get((namespace, name))
            if pod is None or _terminating(pod):
                del self._crash_loops[(namespace, name)]
                continue
            terminated = pod["status"]["containerStatuses"][0].get("lastState", {}).get("terminated", {})
            if self.clock() >= datetime.fromisoformat(terminated["finishedAt"]) + timedelta(seconds=every):
                self._crash(namespace, name)

    def add_budget(self, namespace: str, name: str, *, match_labels: dict[str, str], min_available: int) -> Obj:
        """A PodDisruptionBudget with a `matchLabels` selector and `minAvailable`, which evictions respect."""
        with self.lock:
            budget = {
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"minAvailable": min_available, "selector": {"matchLabels": dict(match_labels)}},
                "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0},
            }
            self._create("poddisruptionbudgets", budget)
            self.step()
            return self.get("poddisruptionbudgets", namespace, name)

    def delete_pod(self, namespace: str, name: str, options: Obj, *, dry_run: bool = False) -> Obj:
        with self.lock:
            pod = self._find("pods", namespace, name)
            if dry_run:
                return copy.deepcopy(pod)
            deleted = self._delete_pod(pod, options.get("gracePeriodSeconds"))
            self.step()
            return deleted

    def _delete_pod(self, pod: Obj, grace: int | None) -> Obj:
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        if not _terminating(pod) and pod["status"].get("containerStatuses"):
            for container in pod["spec"]["containers"]:
                self._record(
                    pod, "Normal", "Killing", f"Stopping container {container['name']}", "kubelet",
                    host=pod["spec"]["nodeName"], field_path=f"spec.containers{{{container['name']}}}",
                )  # fmt: skip
        if grace == 0:
            self._leaving.pop(key, None)
            return self._commit("pods", pod, "DELETED")
        if _terminating(pod):
            return copy.deepcopy(pod)
        leaving = copy.deepcopy(pod)
        leaving["metadata"]["deletionTimestamp"] = timestamp(self.clock() + timedelta(seconds=grace))
        leaving["metadata"]["deletionGracePeriodSeconds"] = grace
        # The step that follows this write keeps the pod; the one after removes it.
        self._leaving[key] = self._steps + 1
        return self._commit("pods", leaving, "MODIFIED")

    def evict(self, namespace: str, name: str, eviction: Obj) -> Obj:
        with self.lock:
            pod = self._find("pods", namespace, name)
            if (eviction.get("metadata") or {}).get("name", name) != name:
                raise ApiError(400, "name in URL does not match name in Eviction object")
            options = eviction.get("deleteOptions") or {}
            if not _terminating(pod):
                self._check_budgets(pod)
            if "All" not in (options.get("dryRun") or []):
                self._delete_pod(pod, options.get("gracePeriodSeconds"))
                self.step()
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def _budget_pods(self, budget: Obj) -> list[Obj]:
        requirements = label_selector_requirements(budget["spec"]["selector"])
        return [
            pod
            for pod in self._sorted("pods")
            if pod["metadata"]["namespace"] == budget["metadata"]["namespace"]
            and labels_match(requirements, pod["metadata"].get("labels"))
            and not _terminating(pod)
        ]

    def _check_budgets(self, pod: Obj) -> None:
        budgets = [budget for budget in self._sorted("poddisruptionbudgets") if pod in self._budget_pods(budget)]
        if len(budgets) > 1:
            message = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
            raise ApiError(500, message)
        for budget in budgets:
            healthy = sum(1 for other in self._budget_pods(budget) if _ready(other))
            minimum = budget["spec"]["minAvailable"]
            # An unhealthy pod may go while the budget holds; a healthy one only if the budget still holds after.
            left = healthy - 1 if _ready(pod) else healthy
            if left < minimum:
                name = budget["metadata"]["name"]
                cause = f"The disruption budget {name} needs {minimum} healthy pods and has {healthy} currently"
                raise ApiError(
                    429,
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    details={"causes": [{"reason": "DisruptionBudget", "message": cause}]},
                )

    # -- secrets ---------------------------------------------------------------------------------------------------

    def create_secret(self, manifest: Obj, *, dry_run: bool = False) -> Obj:
        """A Secret (type Opaque unless given); its `data` values are base64, `stringData` is folded into them."""
        with self.lock:
            secret = copy.deepcopy(manifest)
            meta = secret.setdefault("metadata", {})
            if not meta.get("name"):
                raise _invalid("Secret", "", [("metadata.name", "Required value: name is required")])
            meta.setdefault("namespace", "default")
            secret.setdefault("type", "Opaque")
            secret["data"] = _secret_data(secret)
            if dry_run:
                return secret
            return self._create("secrets", secret)

    def patch_secret(self, namespace: str, name: str, content_type: str, patch: Any, *, dry_run: bool = False) -> Obj:
        with self.lock:
            resource, current = RESOURCES["secrets"], self._find("secrets", namespace, name)
            updated = self._patched(current, patch, content_type)
            self._check_identity(updated, namespace, name)
            given = updated.get("metadata", {}).get("resourceVersion")
            if given and given != current["metadata"]["resourceVersion"]:
                raise _conflict(resource, name)
            for key in ("uid", "creationTimestamp", "resourceVersion", "name", "namespace"):
                updated["metadata"][key] = current["metadata"][key]
            if updated.get("type") != current.get("type"):
                raise _invalid("Secret", name, [("type", "Invalid value: field is immutable")])
            updated["data"] = _secret_data(updated)
            if dry_run:
                return updated
            return self._update("secrets", current, updated)

    # -- services and events -----------------------------------------------------------------------------------------

    def add_service(self, manifest: Obj) -> Obj:
        """A Service with the API server's defaults and the next free cluster IP (10.96.0.1 first, as for
        `kubernetes`)."""
        with self.lock:
            service = copy.deepcopy(manifest)
            service.setdefault("metadata", {}).setdefault("namespace", "default")
            spec = service.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            if "clusterIP" not in spec:
                number = next(self._addresses)
                spec["clusterIP"] = f"10.96.{number // 254}.{number % 254 + 1}"
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("sessionAffinity", "None")
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
            for port in spec.get("ports", []):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port["port"])
            service["status"] = {"loadBalancer": {}}
            return self._create("services", service)

    def _record(
        self,
        involved: Obj,
        kind: str,
        reason: str,
        message: str,
        component: str,
        *,
        host: str = "",
        field_path: str = "",
    ) -> None:
        """An Event about `involved` as its controller or kubelet records it; a repeat of the same one counts up (the
        event correlator's aggregation). Events of cluster-scoped objects live in `default`."""
        meta, now = involved["metadata"], self._now()
        source = {"component": component, **({"host": host} if host else {})}
        same = (meta["uid"], field_path, reason, message, component, host)
        stored = self._objects["events"].get(self._event_keys.get(same, ("", "")))
        if stored is not None:
            repeated = copy.deepcopy(stored)
            repeated["count"] += 1
            repeated["lastTimestamp"] = now
            self._commit("events", repeated, "MODIFIED")
            return
        reference = {
            "kind": involved["kind"],
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": involved["apiVersion"],
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if field_path:
            reference["fieldPath"] = field_path
        # Named like the client's recorder names them: the object's name and a timestamp in hex (kept unique here).
        unique = int(self.clock().timestamp() * 1_000_000_000) + next(self._event_serial)
        key = (str(meta.get("namespace") or "default"), f"{meta['name']}.{unique:x}")
        event: Obj = {
            "metadata": {"name": key[1], "namespace": key[0]},
            "involvedObject": reference,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": kind,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host,
        }
        self._create("events", event)
        self._event_keys[same] = key

    def _expire_events(self) -> None:
        """Events go an hour after they last happened, as with the API server's default `--event-ttl`."""
        cutoff = self.clock() - EVENT_TTL
        for event in self._sorted("events"):
            if _parse_time(event["lastTimestamp"]) < cutoff:
                self._commit("events", event, "DELETED")
        if len(self._event_keys) > len(self._objects["events"]):
            self._event_keys = {same: key for same, key in self._event_keys.items() if key in self._objects["events"]}

    # -- controllers -------------------------------------------------------------------------------------------------

    def release(self) -> None:
        """Let held pods start, then run the controllers."""
        with self.lock:
            self.hold_pods = False
            self.step()

    def step(self) -> None:
        with self.lock:
            self._steps += 1
            for key, last_step in list(self._leaving.items()):
                if last_step < self._steps:
                    del self._leaving[key]
                    if key in self._objects["pods"]:
                        self._commit("pods", self._objects["pods"][key], "DELETED")
            self._expire_events()
            self._crash_again()
            self._sync_node_taints()
            created = {}
            for deployment in self._sorted("deployments"):
                new = self._roll_out(deployment)
                if new is not None:
                    created[deployment["metadata"]["uid"]] = new
            self._sync_replica_sets()
            self._sync_daemon_sets()
            self._schedule()
            if not self.hold_pods:
                for pod in self._sorted("pods"):
                    self._start(pod)
            for deployment in self._sorted("deployments"):
                self._scale_down_old(deployment)
            self._sync_replica_sets()
            for replica_set in self._sorted("replicasets"):
                self._replica_set_status(replica_set)
            for deployment in self._sorted("deployments"):
                self._deployment_status(deployment, created.get(deployment["metadata"]["uid"]))
                self._clean_up_history(deployment)
            for daemon_set in self._sorted("daemonsets"):
                self._daemon_set_status(daemon_set)
            for budget in self._sorted("poddisruptionbudgets"):
                self._budget_status(budget)

    def _sync_node_taints(self) -> None:
        for node in self._sorted("nodes"):
            updated = copy.deepcopy(node)
            taints = [t for t in updated["spec"].get("taints", []) if t["key"] != UNSCHEDULABLE_TAINT]
            if updated["spec"].get("unschedulable"):
                kept = next((t for t in node["spec"].get("taints", []) if t["key"] == UNSCHEDULABLE_TAINT), None)
                taints.append(kept or {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": self._now()})
            if taints:
                updated["spec"]["taints"] = taints
            else:
                updated["spec"].pop("taints", None)
            if updated != node:
                tainted = any(t["key"] == UNSCHEDULABLE_TAINT for t in taints)
                condition = "NodeNotSchedulable" if tainted else "NodeSchedulable"
                name = node["metadata"]["name"]
                self._record(node, "Normal", condition, f"Node {name} status is now: {condition}", "kubelet", host=name)
            self._update("nodes", node, updated)

    def _owned(self, plural: str, owner: Obj) -> list[Obj]:
        uid, namespace = owner["metadata"]["uid"], owner["metadata"]["namespace"]
        return [
            obj
            for obj in self._sorted(plural)
            if obj["metadata"]["namespace"] == namespace and _controller_uid(obj) == uid
        ]

    def _new_replica_set(self, deployment: Obj, owned: list[Obj]) -> Obj | None:
        template = _without_hash(deployment["spec"]["template"])
        matching = [rs for rs in owned if _without_hash(rs["spec"]["template"]) == template]
        # Like the deployment controller, the oldest of several equal ReplicaSets is the new one.
        return min(matching, key=lambda rs: (rs["metadata"]["creationTimestamp"], rs["metadata"]["uid"]), default=None)

    def _roll_out(self, deployment: Obj) -> str | None:
        """Find or create the new ReplicaSet and size it; return its name if it was created in this step."""
        owned = self._owned("replicasets", deployment)
        new = self._new_replica_set(deployment, owned)
        replicas = deployment["spec"]["replicas"]
        if deployment["spec"].get("paused"):
            # Paused: no new ReplicaSet, but the running one still follows scaling.
            active = new or max(owned, key=_revision, default=None)
            if active is not None:
                self._set_replicas(deployment, active, replicas)
            return None
        revision = max((_revision(rs) for rs in owned if rs is not new), default=0) + 1
        created = None
        if new is None:
            new = self._create_replica_set(deployment, revision)
            created = new["metadata"]["name"]
        updated = copy.deepcopy(new)
        annotations = updated["metadata"].setdefault("annotations", {})
        for key, value in deployment["metadata"].get("annotations", {}).items():
            if key not in NOT_COPIED_ANNOTATIONS:
                annotations[key] = value
        old_revision = _revision(new)
        if old_revision < revision:
            annotations[REVISION] = str(revision)
            if old_revision:
                history = [h for h in annotations.get(REVISION_HISTORY, "").split(",") if h]
                annotations[REVISION_HISTORY] = ",".join([*history, str(old_revision)])
        updated["spec"]["replicas"] = replicas
        stored = self._find_obj("replicasets", new)
        if updated["spec"] != stored["spec"]:
            updated["metadata"]["generation"] += 1
        self._scaled(deployment, stored, replicas)
        new = self._update("replicasets", stored, updated)
        marked = copy.deepcopy(deployment)
        marked["metadata"].setdefault("annotations", {})[REVISION] = new["metadata"]["annotations"][REVISION]
        self._update("deployments", deployment, marked)
        return created

    def _find_obj(self, plural: str, obj: Obj) -> Obj:
        return self._find(plural, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    def _create_replica_set(self, deployment: Obj, revision: int) -> Obj:
        template = copy.deepcopy(deployment["spec"]["template"])
        meta, attempt = deployment["metadata"], 0
        while True:
            seed = json.dumps([_without_hash(template), attempt], sort_keys=True)
            template_hash = _encode(seed, 10)
            name = f"{meta['name']}-{template_hash}"
            if (meta["namespace"], name) not in self._objects["replicasets"]:
                break
            attempt += 1
        labels = {**template.get("metadata", {}).get("labels", {}), HASH_LABEL: template_hash}
        template.setdefault("metadata", {})["labels"] = labels
        selector = copy.deepcopy(deployment["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = template_hash
        annotations = {k: v for k, v in meta.get("annotations", {}).items() if k not in NOT_COPIED_ANNOTATIONS}
        replica_set = {
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": dict(labels),
                "annotations": {**annotations, REVISION: str(revision)},
                "ownerReferences": [_owner_reference(deployment)],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
            "status": {"replicas": 0},
        }
        return self._create("replicasets", replica_set)

    def _set_replicas(self, deployment: Obj, replica_set: Obj, replicas: int) -> None:
        updated = copy.deepcopy(replica_set)
        updated["spec"]["replicas"] = replicas
        if updated != replica_set:
            updated["metadata"]["generation"] += 1
            self._scaled(deployment, replica_set, replicas)
        self._update("replicasets", replica_set, updated)

    def _scaled(self, deployment: Obj, replica_set: Obj, replicas: int) -> None:
        before = replica_set["spec"]["replicas"]
        if before != replicas:
            direction = "up" if replicas > before else "down"
            message = f"Scaled {direction} replica set {replica_set['metadata']['name']} from {before} to {replicas}"
            self._record(deployment, "Normal", "ScalingReplicaSet", message, "deployment-controller")

    def _scale_down_old(self, deployment: Obj) -> None:
        """Old ReplicaSets keep only what the new one cannot yet serve, newest revisions first."""
        if deployment["spec"].get("paused"):
            return
        owned = self._owned("replicasets", deployment)
        new = self._new_replica_set(deployment, owned)
        if new is None:
            return
        available = sum(1 for pod in self._owned("pods", new) if _ready(pod) and not _terminating(pod))
        allowed = max(0, deployment["spec"]["replicas"] - available)
        for replica_set in sorted((rs for rs in owned if rs is not new), key=_revision, reverse=True):
            keep = min(replica_set["spec"]["replicas"], allowed)
            allowed -= keep
            self._set_replicas(deployment, self._find_obj("replicasets", replica_set), keep)

    def _sync_replica_sets(self) -> None:
        for replica_set in self._sorted("replicasets"):
            pods = [pod for pod in self._owned("pods", replica_set) if not _terminating(pod)]
            missing = replica_set["spec"]["replicas"] - len(pods)
            for _ in range(missing):
                self._create_pod(replica_set, "replicaset-controller")
            order = {key: index for index, key in enumerate(self._objects["pods"])}
            # Delete unscheduled, then unready, then the newest pods first, as the ReplicaSet controller prefers.
            victims = sorted(
                pods,
                key=lambda p: (
                    "nodeName" in p["spec"],
                    _ready(p),
                    -order[(p["metadata"]["namespace"], p["metadata"]["name"])],
                ),
            )
            for pod in victims[: max(0, -missing)]:
                self._commit("pods", pod, "DELETED")
                message = f"Deleted pod: {pod['metadata']['name']}"
                self._record(replica_set, "Normal", "SuccessfulDelete", message, "replicaset-controller")

    def _sync_daemon_sets(self) -> None:
        """One pod per node whose labels match the template's `nodeSelector`, cordoned nodes included: DaemonSet pods
        tolerate the unschedulable taint. They are named after their node (not randomly) so tests can name them."""
        for daemon_set in self._sorted("daemonsets"):
            meta = daemon_set["metadata"]
            nodes = self._daemon_set_nodes(daemon_set)
            pods = [pod for pod in self._owned("pods", daemon_set) if not _terminating(pod)]
            placed = {pod["spec"].get("nodeName") for pod in pods}
            for node in nodes:
                name = f"{meta['name']}-{node}"
                # A pod of that name still terminating is replaced once it is gone.
                if node not in placed and (meta["namespace"], name) not in self._objects["pods"]:
                    self._create_pod(daemon_set, "daemonset-controller", name=name, node=node)
            for pod in pods:
                if pod["spec"].get("nodeName") not in nodes:
                    self._commit("pods", pod, "DELETED")
                    message = f"Deleted pod: {pod['metadata']['name']}"
                    self._record(daemon_set, "Normal", "SuccessfulDelete", message, "daemonset-controller")

    def _daemon_set_nodes(self, daemon_set: Obj) -> list[str]:
        wanted = daemon_set["spec"]["template"]["spec"].get("nodeSelector") or {}
        return [
            node["metadata"]["name"]
            for node in self._sorted("nodes")
            if all(node["metadata"].get("labels", {}).get(key) == value for key, value in wanted.items())
        ]

    def _create_pod(self, owner: Obj, component: str, *, name: str | None = None, node: str | None = None) -> None:
        template, meta = owner["spec"]["template"], owner["metadata"]
        if name is None:
            suffix = _encode(f"{meta['name']}/{next(self._serial)}", 5)
            name = f"{meta['name']}-{suffix}"
        pod_meta: Obj = {
            "name": name,
            "namespace": meta["namespace"],
            "labels": dict(template.get("metadata", {}).get("labels", {})),
            "ownerReferences": [_owner_reference(owner)],
        }
        if template.get("metadata", {}).get("annotations"):
            pod_meta["annotations"] = dict(template["metadata"]["annotations"])
        spec = copy.deepcopy(template["spec"])
        if node is not None:
            spec["nodeName"] = node
        self._create("pods", {"metadata": pod_meta, "spec": spec, "status": {"phase": "Pending"}})
        self._record(owner, "Normal", "SuccessfulCreate", f"Created pod: {name}", component)

    def _schedule(self) -> None:
        nodes = [
            node["metadata"]["name"]
            for node in self._sorted("nodes")
            if not node["spec"].get("unschedulable")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
        ]
        if not nodes:
            return
        for pod in self._sorted("pods"):
            if "nodeName" in pod["spec"] or _terminating(pod):
                continue
            load = dict.fromkeys(nodes, 0)
            for other in self._objects["pods"].values():
                if other["spec"].get("nodeName") in load and not _terminating(other):
                    load[other["spec"]["nodeName"]] += 1
            scheduled = copy.deepcopy(pod)
            node = min(nodes, key=lambda node: (load[node], node))
            scheduled["spec"]["nodeName"] = node
            stored = self._commit("pods", scheduled, "MODIFIED")
            message = f"Successfully assigned {pod['metadata']['namespace']}/{pod['metadata']['name']} to {node}"
            self._record(stored, "Normal", "Scheduled", message, "default-scheduler")

    def _start(self, pod: Obj) -> None:
        """The kubelet's part: a scheduled Pending pod starts and is Ready."""
        if "nodeName" not in pod["spec"] or pod["status"].get("phase") != "Pending" or _terminating(pod):
            return
        node = self._objects["nodes"].get(("", pod["spec"]["nodeName"]))
        number, now = next(self._serial), self._now()
        started = copy.deepcopy(pod)
        started["status"] = {
            "phase": "Running",
            "conditions": [
                {"type": kind, "status": "True", "lastTransitionTime": now}
                for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "podIP": f"10.244.{number // 250 % 250}.{number % 250 + 1}",
            "startTime": now,
            "containerStatuses": [
                _running(container, pod["metadata"]["uid"], 0, now) for container in pod["spec"]["containers"]
            ],
            "qosClass": "BestEffort",
        }
        if node is not None:
            started["status"]["hostIP"] = node["status"]["addresses"][0]["address"]
        stored = self._commit("pods", started, "MODIFIED")
        for container in pod["spec"]["containers"]:
            self._record_start(stored, container)

    def _record_start(self, pod: Obj, container: Obj) -> None:
        name, image = container["name"], container["image"]
        for reason, message in (
            ("Pulled", f'Container image "{image}" already present on machine'),
            ("Created", f"Created container {name}"),
            ("Started", f"Started container {name}"),
        ):
            self._record(
                pod, "Normal", reason, message, "kubelet",
                host=pod["spec"]["nodeName"], field_path=f"spec.containers{{{name}}}",
            )  # fmt: skip

    def _replica_set_status(self, replica_set: Obj) -> None:
        pods = [pod for pod in self._owned("pods", replica_set) if not _terminating(pod)]
        ready = sum(1 for pod in pods if _ready(pod))
        status = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": replica_set["metadata"]["generation"],
        }
        updated = copy.deepcopy(replica_set)
        # Zero counts are omitted, as the API server's JSON omits empty fields; `replicas` is always there.
        updated["status"] = {k: v for k, v in status.items() if v or k == "replicas"}
        self._update("replicasets", replica_set, updated)

    @staticmethod
    def _max_unavailable(deployment: Obj) -> int:
        strategy, replicas = deployment["spec"]["strategy"], deployment["spec"]["replicas"]
        if strategy.get("type") != "RollingUpdate":
            return 0
        value = strategy.get("rollingUpdate", {}).get("maxUnavailable", "25%")
        if isinstance(value, str) and value.endswith("%"):
            return int(replicas) * int(value[:-1]) // 100
        return int(value)

    def _deployment_status(self, deployment: Obj, created: str | None) -> None:
        deployment = self._find_obj("deployments", deployment)
        spec, old = deployment["spec"], deployment["status"]
        owned = self._owned("replicasets", deployment)
        new = self._new_replica_set(deployment, owned)
        pods = [pod for rs in owned for pod in self._owned("pods", rs) if not _terminating(pod)]
        updated_pods = [pod for pod in self._owned("pods", new) if not _terminating(pod)] if new else []
        available = sum(1 for pod in pods if _ready(pod))
        counts = {
            "replicas": len(pods),
            "updatedReplicas": len(updated_pods),
            "readyReplicas": available,
            "availableReplicas": available,
            "unavailableReplicas": max(0, spec["replicas"] - available),
        }
        now = self._now()
        minimum = available >= spec["replicas"] - self._max_unavailable(deployment)
        conditions = [
            self._condition(
                old,
                "Available",
                ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
                if minimum
                else ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
                now,
                refreshed=False,
            ),
            self._progressing(deployment, new, counts, created, now),
        ]
        status = {"observedGeneration": deployment["metadata"]["generation"]}
        status.update({key: value for key, value in counts.items() if value})
        status["conditions"] = conditions
        updated = copy.deepcopy(deployment)
        updated["status"] = status
        self._update("deployments", deployment, updated)

    def _progressing(self, deployment: Obj, new: Obj | None, counts: Obj, created: str | None, now: str) -> Obj:
        spec, old = deployment["spec"], deployment["status"]
        previous = next((c for c in old.get("conditions", []) if c["type"] == "Progressing"), None)
        name = new["metadata"]["name"] if new else ""
        replicas = spec["replicas"]
        complete = counts["updatedReplicas"] == counts["replicas"] == counts["availableReplicas"] == replicas
        moved = any(old.get(key, 0) != value for key, value in counts.items())
        if spec.get("paused"):
            value = ("Unknown", "DeploymentPaused", "Deployment is paused")
        elif complete and new is not None:
            value = ("True", "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.')
        elif created:
            value = ("True", "NewReplicaSetCreated", f'Created new replica set "{name}"')
        elif moved or previous is None or previous["reason"] in {"DeploymentPaused", "NewReplicaSetAvailable"}:
            value = ("True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.')
        elif previous["reason"] != "ProgressDeadlineExceeded" and self.clock() - _parse_time(
            previous["lastUpdateTime"]
        ) > timedelta(seconds=spec["progressDeadlineSeconds"]):
            value = ("False", "ProgressDeadlineExceeded", f'ReplicaSet "{name}" has timed out progressing.')
        else:
            return cast(Obj, previous)
        return self._condition(old, "Progressing", value, now, refreshed=moved or created is not None)

    @staticmethod
    def _condition(old: Obj, kind: str, value: tuple[str, str, str], now: str, *, refreshed: bool) -> Obj:
        status, reason, message = value
        previous: Obj | None = next((c for c in old.get("conditions", []) if c["type"] == kind), None)
        same = previous is not None and (previous["status"], previous["reason"], previous["message"]) == value
        if previous is not None and same and not refreshed:
            return previous
        transition = previous["lastTransitionTime"] if previous is not None and previous["status"] == status else now
        return {
            "type": kind,
            "status": status,
            "lastUpdateTime": now,
            "lastTransitionTime": transition,
            "reason": reason,
            "message": message,
        }

    def _clean_up_history(self, deployment: Obj) -> None:
        deployment = self._find_obj("deployments", deployment)
        owned = self._owned("replicasets", deployment)
        new = self._new_replica_set(deployment, owned)
        idle = sorted(
            (rs for rs in owned if rs is not new and not rs["spec"]["replicas"] and not self._owned("pods", rs)),
            key=_revision,
        )
        for replica_set in idle[: max(0, len(idle) - deployment["spec"]["revisionHistoryLimit"])]:
            self._commit("replicasets", replica_set, "DELETED")

    # -- daemon sets and disruption budgets --------------------------------------------------------------------------

    def create_daemonset(self, manifest: Obj) -> Obj:
        with self.lock:
            daemon_set = copy.deepcopy(manifest)
            daemon_set.setdefault("metadata", {}).setdefault("namespace", "default")
            spec = daemon_set.setdefault("spec", {})
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})
            _default_pod_spec(spec["template"].setdefault("spec", {}))
            daemon_set["status"] = {
                "currentNumberScheduled": 0,
                "numberMisscheduled": 0,
                "desiredNumberScheduled": 0,
                "numberReady": 0,
            }
            self._create("daemonsets", daemon_set)
            self.step()
            return self.get("daemonsets", daemon_set["metadata"]["namespace"], daemon_set["metadata"]["name"])

    def _daemon_set_status(self, daemon_set: Obj) -> None:
        pods = [pod for pod in self._owned("pods", daemon_set) if not _terminating(pod)]
        ready = sum(1 for pod in pods if _ready(pod))
        status = {
            "currentNumberScheduled": len(pods),
            "numberMisscheduled": 0,
            "desiredNumberScheduled": len(self._daemon_set_nodes(daemon_set)),
            "numberReady": ready,
            "observedGeneration": daemon_set["metadata"]["generation"],
            "updatedNumberScheduled": len(pods),
            "numberAvailable": ready,
        }
        updated = copy.deepcopy(daemon_set)
        # The first four are always there; zero counts of the others are omitted, as in the API server's JSON.
        updated["status"] = {key: value for index, (key, value) in enumerate(status.items()) if value or index < 4}
        self._update("daemonsets", daemon_set, updated)

    def _budget_status(self, budget: Obj) -> None:
        pods = self._budget_pods(budget)
        healthy, desired = sum(1 for pod in pods if _ready(pod)), budget["spec"]["minAvailable"]
        allowed = max(0, healthy - desired)
        generation = budget["metadata"]["generation"]
        value = ("True", "SufficientPods") if allowed else ("False", "InsufficientPods")
        previous = next(iter(budget["status"].get("conditions", [])), None)
        same = previous is not None and (previous["status"], previous["reason"]) == value
        condition = {
            "type": "DisruptionAllowed",
            "status": value[0],
            "reason": value[1],
            "message": "",
            "observedGeneration": generation,
            "lastTransitionTime": previous["lastTransitionTime"] if previous is not None and same else self._now(),
        }
        updated = copy.deepcopy(budget)
        updated["status"] = {
            "observedGeneration": generation,
            "disruptionsAllowed": allowed,
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": len(pods),
            "conditions": [condition],
        }
        self._update("poddisruptionbudgets", budget, updated)
