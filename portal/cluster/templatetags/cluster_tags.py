from dataclasses import dataclass
from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from portal.accounts.models import User
from portal.cluster import policy
from portal.cluster.models import ActionKind, ActionRun, Look, LookKind, Target, Workload
from portal.core.models import Environment

register = template.Library()

# The runbook's usual first moves per kind of target, in the order people reach for them.
QUICK_ACTIONS = {
    Target.Kind.KUBERNETES: [
        (ActionKind.ROLLOUT_STATUS, "Status"),
        (ActionKind.ROLLOUT_HISTORY, "History"),
        (ActionKind.SCALE, "Scale"),
        (ActionKind.RESTART, "Restart"),
        (ActionKind.ROLLBACK, "Roll back"),
    ],
    Target.Kind.REDIS: [(ActionKind.REDIS_DELETE_PATTERN, "Delete keys"), (ActionKind.REDIS_FLUSH, "Flush (FLUSHDB)")],
    Target.Kind.POSTGRESQL: [
        (ActionKind.PG_TERMINATE_IDLE, "Terminate idle connections"),
        (ActionKind.PG_TERMINATE_BACKEND, "Terminate a backend"),
        (ActionKind.PG_VACUUM_ANALYZE, "VACUUM ANALYZE"),
    ],
}


@dataclass(frozen=True)
class QuickAction:
    label: str
    url: str
    asks_approval: bool = False  # the person's request goes to an Incident Commander for approval


@dataclass(frozen=True)
class WorkloadActions:
    workload: Workload
    environment: str
    actions: list[QuickAction]
    environment_value: str


def _quick(workload: Workload, incident: Incident, user: User) -> WorkloadActions:
    reason = f"{incident.reference}: {incident.title}"
    prefill = {"target": workload.target.slug, "incident": incident.pk, "reason": reason}
    if workload.namespace is not None:
        prefill |= {"namespace": workload.namespace.name, "deployment": workload.deployment}
    where = workload.namespace or workload.target
    links = [
        QuickAction(
            label,
            f"{reverse('action-new')}?{urlencode(prefill | {'kind': kind.value})}",
            policy.asks_approval(user, kind, where.environment),
        )
        for kind, label in QUICK_ACTIONS[Target.Kind(workload.target.kind)]
    ]
    return WorkloadActions(workload, where.get_environment_display(), links, where.environment)


@register.inclusion_tag("components/incident_actions.html", takes_context=True)
def incident_actions(
    context: template.Context, incident: Incident, workloads: list[Workload], runs: list[ActionRun]
) -> dict[str, object]:
    """The incident page's Actions card: prefilled actions on `workloads` (`workloads_of(incident)`, which the
    Investigate card shows too), its recent `runs` (`latest_action_runs`), and the production freeze in force, if any
    (said here, before a production change is refused)."""
    quick = [_quick(workload, incident, context["user"]) for workload in workloads]
    in_production = any(entry.environment_value == Environment.PRODUCTION for entry in quick)
    return {
        "incident": incident,
        "workloads": quick,
        "freeze": policy.production_freeze(timezone.now()) if in_production and incident.is_open else None,
        "emergency_shortfall": policy.run_emergency_shortfall(ActionRun(emergency=True, incident=incident)),
        "asks_approval": any(action.asks_approval for entry in quick for action in entry.actions),
        "runs": runs,
        "is_responder": context.get("is_responder", False),
    }


# The looks offered per kind of target, one click each; logs have a form of their own (tail, filter, previous).
QUICK_LOOKS = {
    Target.Kind.KUBERNETES: [
        (LookKind.PODS, "Pods"),
        (LookKind.EVENTS, "Events"),
        (LookKind.TOP_PODS, "Top pods"),
        (LookKind.ROLLOUT_STATUS, "Rollout status"),
        (LookKind.TOP_NODES, "Top nodes"),
    ],
    Target.Kind.REDIS: [(LookKind.REDIS_INFO, "INFO")],
    Target.Kind.POSTGRESQL: [
        (LookKind.PG_CONNECTIONS, "Connections"),
        (LookKind.PG_LONG_QUERIES, "Long-running queries"),
        (LookKind.PG_SIZE, "Size"),
        (LookKind.PG_STATEMENTS, "Slow queries"),
    ],
}


@dataclass(frozen=True)
class QuickLook:
    label: str
    kind: str
    parameters: dict[str, str]


def _looks(workload: Workload) -> list[QuickLook]:
    where: dict[str, str] = {}
    if workload.namespace is not None:
        where = {"namespace": workload.namespace.name, "deployment": workload.deployment}
    quick = []
    for kind, label in QUICK_LOOKS[Target.Kind(workload.target.kind)]:
        parameters = {} if kind == LookKind.TOP_NODES else dict(where)
        if kind == LookKind.EVENTS:
            parameters = {"namespace": where["namespace"], "name": workload.deployment}
        quick.append(QuickLook(label, kind.value, parameters))
    return quick


@register.inclusion_tag("components/incident_looks.html", takes_context=True)
def incident_looks(
    context: template.Context, incident: Incident, workloads: list[Workload], looks: list[Look]
) -> dict[str, object]:
    """The incident page's Investigate card: read-only looks at `workloads` (what its services run on), fetched by
    a worker, and the incident's latest `looks` (`latest_looks`). Responders and above; nothing here changes
    anything."""
    return {
        "incident": incident,
        "workloads": [(workload, _looks(workload)) for workload in workloads],
        "looks": looks,
        "is_responder": context.get("is_responder", False),
        "csrf_token": context.get("csrf_token"),
    }
