"""Runbook quick actions: which cluster actions a runbook may offer, which parameters each takes, and the one place
that turns them into a link to the prefilled cluster-action form.

The cluster-action form belongs to the cluster-actions work, which serves it at /actions/new/ and reads these query
parameters; the person still reviews, fills in what is missing (a node name) and submits there.
"""

from urllib.parse import urlencode

from django.db import models

from portal.core.links import reversed_once


class ActionKind(models.TextChoices):
    SCALE = "scale", "Scale a deployment"
    RESTART = "restart", "Rollout restart"
    ROLLBACK = "rollback", "Rollout undo (previous revision)"
    ROLLOUT_STATUS = "rollout_status", "Rollout status"
    ROLLOUT_HISTORY = "rollout_history", "Rollout history"
    CORDON = "cordon", "Cordon a node"
    UNCORDON = "uncordon", "Uncordon a node"
    DRAIN = "drain", "Drain a node"
    REDIS_FLUSH = "redis_flush", "Clear the Redis cache (FLUSHDB)"
    REDIS_DELETE_PATTERN = "redis_delete_pattern", "Delete Redis keys by pattern"
    PG_TERMINATE_IDLE = "pg_terminate_idle", "Terminate idle PostgreSQL connections"


_DEPLOYMENT = frozenset({"deployment", "namespace"})
_NODE = frozenset({"target"})
# For each kind: (parameters it must carry, parameters it may carry). A node's name is often known only during the
# incident, so node actions may leave it for the form.
PARAMETERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    ActionKind.SCALE: (_DEPLOYMENT | {"replicas"}, _DEPLOYMENT | {"replicas"}),
    ActionKind.RESTART: (_DEPLOYMENT, _DEPLOYMENT),
    ActionKind.ROLLBACK: (_DEPLOYMENT, _DEPLOYMENT),
    ActionKind.ROLLOUT_STATUS: (_DEPLOYMENT, _DEPLOYMENT),
    ActionKind.ROLLOUT_HISTORY: (_DEPLOYMENT, _DEPLOYMENT),
    ActionKind.CORDON: (frozenset(), _NODE),
    ActionKind.UNCORDON: (frozenset(), _NODE),
    ActionKind.DRAIN: (frozenset(), _NODE),
    ActionKind.REDIS_FLUSH: (frozenset(), frozenset()),
    ActionKind.REDIS_DELETE_PATTERN: (_NODE, _NODE),
    ActionKind.PG_TERMINATE_IDLE: (frozenset(), frozenset()),
}


def parameter_errors(
    *, kind: str, target: str = "", deployment: str = "", namespace: str = "", replicas: int | None = None
) -> dict[str, str]:
    """What is missing or does not belong, by parameter name; empty when the quick action is complete."""
    if kind not in PARAMETERS:
        return {"kind": f"Unknown action kind {kind!r}."}
    required, allowed = PARAMETERS[kind]
    given = {"target": target, "deployment": deployment, "namespace": namespace, "replicas": replicas}
    errors = {}
    for name, value in given.items():
        present = value is not None and value != ""
        if name in required and not present:
            errors[name] = f"A {ActionKind(kind).label.lower()} quick action needs {name}."
        elif name not in allowed and present:
            errors[name] = f"A {ActionKind(kind).label.lower()} quick action takes no {name}."
    if replicas is not None and replicas < 0:
        errors["replicas"] = "Replicas cannot be negative."
    return errors


def runbook_quick_action_url(
    *,
    kind: str,
    target: str = "",
    deployment: str = "",
    namespace: str = "",
    replicas: int | None = None,
    incident: int | None = None,
    reason: str = "",
) -> str:
    """The cluster-action form, prefilled: /actions/new/?kind=scale&deployment=...; empty parameters are left out."""
    params: list[tuple[str, str]] = [("kind", kind)]
    params += [(name, value) for name, value in (("target", target), ("deployment", deployment),
                                                 ("namespace", namespace)) if value]  # fmt: skip
    if replicas is not None:
        params.append(("replicas", str(replicas)))
    if incident is not None:
        params.append(("incident", str(incident)))
    if reason:
        params.append(("reason", reason))
    return f"{reversed_once('action-new')}?{urlencode(params)}"
