"""Each action kind: what it acts on, its parameters and their bounds, and its equivalent for people.

Parameters are validated here, once, for the form, the API and the worker alike; a bad one is an
`ApplicationError` naming the field.
"""

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from portal import kube
from portal.cluster import datastores
from portal.cluster.models import ActionKind, Target
from portal.core.models import Environment
from portal.errors import ApplicationError

Scope = Literal["deployment", "node", "datastore", "secret"]
Value = int | bool | str
# Kubernetes object names: DNS-1123 subdomains (deployments, nodes) and labels (namespaces).
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MAX_WAIT_SECONDS = 600


@dataclass(frozen=True)
class Param:
    name: str
    type: type[int] | type[bool] | type[str]
    label: str
    required: bool = False
    default: Value | None = None
    minimum: int | None = None
    maximum: int | None = None
    help: str = ""


@dataclass(frozen=True)
class ActionSpec:
    kind: ActionKind
    target_kind: Target.Kind
    scope: Scope
    read_only: bool
    params: tuple[Param, ...]
    summary: str


NAMESPACE = Param("namespace", str, "Namespace", required=True)
DEPLOYMENT = Param("deployment", str, "Deployment", required=True)
NODE = Param("node", str, "Node", required=True)
WAIT = Param(
    "timeout_seconds", int, "Wait at most (s)", default=120, minimum=1, maximum=MAX_WAIT_SECONDS,
    help="How long to wait for the rollout to finish.",
)  # fmt: skip

SPECS: dict[ActionKind, ActionSpec] = {
    spec.kind: spec
    for spec in (
        ActionSpec(
            ActionKind.SCALE, Target.Kind.KUBERNETES, "deployment", False,
            (NAMESPACE, DEPLOYMENT, Param("replicas", int, "Replicas", required=True, minimum=0)),
            "Set the deployment's replicas through its scale subresource.",
        ),
        ActionSpec(
            ActionKind.RESTART, Target.Kind.KUBERNETES, "deployment", False, (NAMESPACE, DEPLOYMENT),
            "Replace every pod of the deployment, one rolling update (kubectl rollout restart).",
        ),
        ActionSpec(
            ActionKind.ROLLBACK, Target.Kind.KUBERNETES, "deployment", False,
            (NAMESPACE, DEPLOYMENT, Param("to_revision", int, "To revision", minimum=1,
                                          help="Empty: the previous revision.")),
            "Put a previous revision's pod template back on the deployment (kubectl rollout undo).",
        ),
        ActionSpec(
            ActionKind.ROLLOUT_STATUS, Target.Kind.KUBERNETES, "deployment", True, (NAMESPACE, DEPLOYMENT, WAIT),
            "Wait until the deployment's rollout is complete; changes nothing.",
        ),
        ActionSpec(
            ActionKind.ROLLOUT_HISTORY, Target.Kind.KUBERNETES, "deployment", True, (NAMESPACE, DEPLOYMENT),
            "List the deployment's revisions with their change-cause; changes nothing.",
        ),
        ActionSpec(
            ActionKind.CORDON, Target.Kind.KUBERNETES, "node", False, (NODE,),
            "Mark the node unschedulable; its pods keep running.",
        ),
        ActionSpec(
            ActionKind.UNCORDON, Target.Kind.KUBERNETES, "node", False, (NODE,),
            "Let the scheduler place pods on the node again.",
        ),
        ActionSpec(
            ActionKind.DRAIN, Target.Kind.KUBERNETES, "node", False,
            (
                NODE,
                Param("grace_period_seconds", int, "Grace period (s)", default=-1, minimum=-1, maximum=3600,
                      help="-1: each pod's own."),
                Param("timeout_seconds", int, "Give up after (s)", default=300, minimum=1, maximum=MAX_WAIT_SECONDS),
                Param("delete_emptydir_data", bool, "Evict pods with emptyDir data (it is lost)", default=False),
                Param("force", bool, "Evict pods no controller manages (they are not recreated)", default=False),
            ),
            "Cordon the node and evict its pods through the Eviction API, skipping DaemonSet and mirror pods and "
            "retrying while a PodDisruptionBudget refuses.",
        ),
        ActionSpec(
            ActionKind.REDIS_FLUSH, Target.Kind.REDIS, "datastore", False, (),
            "FLUSHDB: delete every key of the target's database.",
        ),
        ActionSpec(
            ActionKind.REDIS_DELETE_PATTERN, Target.Kind.REDIS, "datastore", False,
            (
                Param("pattern", str, "Key pattern", required=True, help="A Redis glob, e.g. session:*"),
                Param("batch_size", int, "Batch size", default=500, minimum=1, maximum=10000),
            ),
            "Delete the keys matching a pattern, found with SCAN and unlinked in batches.",
        ),
        ActionSpec(
            ActionKind.PG_TERMINATE_IDLE, Target.Kind.POSTGRESQL, "datastore", False,
            (Param("idle_minutes", int, "Idle for more than (min)", default=5, minimum=0, maximum=7 * 24 * 60),),
            "Terminate connections to the target database that have been idle longer than that.",
        ),
        ActionSpec(
            ActionKind.SECRET_SET, Target.Kind.KUBERNETES, "secret", False,
            (
                NAMESPACE,
                Param("secret", str, "Secret", required=True, help="e.g. broxiva-secrets"),
                Param("key", str, "Key", required=True, help="e.g. JWT_SECRET"),
                Param("generate", bool, "Generate a random value (else you type it when confirming)", default=False),
                Param("length", int, "Generated length", default=48, minimum=16, maximum=256),
                Param("restart", bool, "Then restart the deployments that use the secret", default=False),
            ),
            "Set one key of a Secret to a value typed once or generated, never shown; the record keeps the key and a "
            "fingerprint. Optionally restart the deployments that read the secret.",
        ),
        ActionSpec(
            ActionKind.PG_TERMINATE_BACKEND, Target.Kind.POSTGRESQL, "datastore", False,
            (Param("pid", int, "Backend pid", required=True, minimum=1, maximum=2**31 - 1,
                   help="From the long-running queries look."),),
            "Terminate one backend of the target database (pg_terminate_backend): its query is cancelled and its "
            "client must reconnect.",
        ),
        ActionSpec(
            ActionKind.PG_VACUUM_ANALYZE, Target.Kind.POSTGRESQL, "datastore", False,
            (Param("table", str, "Table", required=True, help="schema.table, or a table on the search path"),),
            "VACUUM ANALYZE one table: reclaims dead rows and refreshes the planner's statistics. Maintenance: in "
            "production only inside a maintenance window, unless an emergency.",
        ),
    )
}  # fmt: skip
READ_ONLY = frozenset(kind for kind, spec in SPECS.items() if spec.read_only)
PARAMETER_NAMES = tuple(dict.fromkeys(param.name for spec in SPECS.values() for param in spec.params))


def kinds_for(target: Target) -> list[ActionKind]:
    return [kind for kind, spec in SPECS.items() if spec.target_kind == target.kind]


def coerce(param: Param, raw: object) -> Value:
    if param.type is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in {"true", "false", "1", "0", "on", "off"}:
            return raw.lower() in {"true", "1", "on"}
        raise ApplicationError(f"{param.label}: true or false.", field=param.name)
    if param.type is int:
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ApplicationError(f"{param.label}: a whole number.", field=param.name)
        try:
            number = int(raw)
        except ValueError as exc:
            raise ApplicationError(f"{param.label}: a whole number.", field=param.name) from exc
        if param.minimum is not None and number < param.minimum:
            raise ApplicationError(f"{param.label}: at least {param.minimum}.", field=param.name)
        if param.maximum is not None and number > param.maximum:
            raise ApplicationError(f"{param.label}: at most {param.maximum}.", field=param.name)
        return number
    if not isinstance(raw, str) or not raw.strip():
        raise ApplicationError(f"{param.label}: required.", field=param.name)
    return raw.strip()


def clean_params(params: Iterable[Param], raw: Mapping[str, object], *, what: str) -> dict[str, Value]:
    """`params` read from `raw`, typed and bounded; absent ones defaulted, or refused when required for `what`."""
    clean: dict[str, Value] = {}
    for param in params:
        value = raw.get(param.name)
        if value is None or value == "":
            if param.required:
                raise ApplicationError(f"{param.label}: required for {what.lower()}.", field=param.name)
            if param.default is not None:
                clean[param.name] = param.default
            continue
        clean[param.name] = coerce(param, value)
    return clean


def validate_parameters(kind: ActionKind, target: Target, raw: Mapping[str, object]) -> dict[str, Value]:
    """The parameters of `kind` on `target`, typed, bounded and defaulted; other keys are ignored."""
    spec = SPECS[kind]
    if target.kind != spec.target_kind:
        raise ApplicationError(
            f"{kind.label} runs on a {spec.target_kind.label} target; {target} is a {target.get_kind_display()}.",
            field="target",
        )
    clean = clean_params(spec.params, raw, what=kind.label)
    _check_names(spec, target, clean)
    if kind == ActionKind.SCALE:
        replicas = int(clean["replicas"])
        if not target.min_replicas <= replicas <= target.max_replicas:
            raise ApplicationError(
                f"Replicas: {target} allows {target.min_replicas} to {target.max_replicas}.", field="replicas"
            )
    if kind == ActionKind.PG_VACUUM_ANALYZE and not datastores.TABLE_NAME.match(str(clean["table"])):
        raise ApplicationError(
            f"Table: {clean['table']!r} is not a table name (letters, digits, _ and $, optionally schema.table).",
            field="table",
        )
    if kind == ActionKind.REDIS_DELETE_PATTERN and not str(clean["pattern"]).strip("*?"):
        # A pattern matching every key is a FLUSHDB without FLUSHDB's approval.
        raise ApplicationError("Key pattern: it matches every key; use Redis FLUSHDB instead.", field="pattern")
    return clean


def _check_names(spec: ActionSpec, target: Target, clean: Mapping[str, Value]) -> None:
    key = clean.get("key")
    if isinstance(key, str) and (len(key) > 253 or not _SECRET_KEY.match(key)):
        raise ApplicationError(f"Key: {key!r} is not a valid key (letters, digits, '-', '_', '.').", field="key")
    for name in ("deployment", "node", "secret"):
        value = clean.get(name)
        if isinstance(value, str) and (len(value) > 253 or not _SUBDOMAIN.match(value)):
            raise ApplicationError(f"{name.title()}: {value!r} is not a valid Kubernetes name.", field=name)
    if spec.scope in ("deployment", "secret"):
        known = [namespace.name for namespace in target.namespaces.all()]
        if clean["namespace"] not in known:
            listed = ", ".join(known) or "none yet"
            raise ApplicationError(
                f"Namespace: {clean['namespace']!r} is not a namespace of {target} (it has: {listed}).",
                field="namespace",
            )


def environment_of(kind: ActionKind, target: Target, parameters: Mapping[str, Value]) -> Environment:
    """Deployment actions belong to their namespace's environment; node and data-store actions to the target's."""
    if SPECS[kind].scope in ("deployment", "secret"):
        namespace = next(ns for ns in target.namespaces.all() if ns.name == parameters["namespace"])
        return Environment(namespace.environment)
    return Environment(target.environment)


def subject(kind: ActionKind, parameters: Mapping[str, Value]) -> str:
    """What the action acts on, in a few words: `broxiva-production/broxiva-api`, `node broxiva-node-1`."""
    scope = SPECS[kind].scope
    if scope == "deployment":
        return f"{parameters['namespace']}/{parameters['deployment']}"
    if scope == "node":
        return f"node {parameters['node']}"
    if scope == "secret":
        return f"{parameters['namespace']}/{parameters['secret']} key {parameters['key']}"
    return "database"


def command_for(kind: ActionKind, target: Target, parameters: Mapping[str, object]) -> str:
    """The kubectl, redis-cli or SQL a person would type for the same action."""
    p = parameters
    if SPECS[kind].target_kind == Target.Kind.KUBERNETES:
        return _with_context(_kubectl(kind, p), target.context)
    if kind == ActionKind.REDIS_FLUSH:
        return datastores.redis_flush_command(target.url)
    if kind == ActionKind.REDIS_DELETE_PATTERN:
        return datastores.redis_delete_pattern_command(target.url, str(p["pattern"]), batch_size=int(p["batch_size"]))
    if kind == ActionKind.PG_TERMINATE_BACKEND:
        return datastores.pg_terminate_backend_command(target.url, pid=int(str(p["pid"])))
    if kind == ActionKind.PG_VACUUM_ANALYZE:
        return datastores.pg_vacuum_analyze_command(target.url, str(p["table"]))
    return datastores.pg_terminate_idle_command(target.url, idle_minutes=int(p["idle_minutes"]))


def _kubectl(kind: ActionKind, p: Mapping[str, object]) -> str:
    namespace, name, node = str(p.get("namespace")), str(p.get("deployment")), str(p.get("node"))
    if kind == ActionKind.SCALE:
        return kube.scale_command(namespace, name, int(str(p["replicas"])))
    if kind == ActionKind.RESTART:
        return kube.rollout_restart_command(namespace, name)
    if kind == ActionKind.ROLLBACK:
        revision = p.get("to_revision")
        return kube.rollout_undo_command(namespace, name, to_revision=int(str(revision)) if revision else None)
    if kind == ActionKind.ROLLOUT_STATUS:
        return kube.rollout_status_command(namespace, name, timeout_seconds=float(str(p["timeout_seconds"])))
    if kind == ActionKind.ROLLOUT_HISTORY:
        return kube.rollout_history_command(namespace, name)
    if kind == ActionKind.SECRET_SET:
        command = kube.secret_set_command(namespace, str(p["secret"]), str(p["key"]))
        return command + ("\n# then: kubectl rollout restart of each deployment using it" if p.get("restart") else "")
    if kind == ActionKind.CORDON:
        return kube.cordon_command(node)
    if kind == ActionKind.UNCORDON:
        return kube.uncordon_command(node)
    return kube.drain_command(
        node,
        grace_period_seconds=int(str(p["grace_period_seconds"])),
        timeout_seconds=float(str(p["timeout_seconds"])),
        delete_emptydir_data=bool(p["delete_emptydir_data"]),
        force=bool(p["force"]),
    )


def _with_context(command: str, context: str) -> str:
    if not context:
        return command
    return command.replace("kubectl ", f"kubectl --context {shlex.quote(context)} ", 1)
