from dataclasses import dataclass
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from incidents.models import Incident
from portal.cluster.models import ActionKind, Target, Workload
from portal.cluster.selectors import action_runs, workloads_of

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
    Target.Kind.POSTGRESQL: [(ActionKind.PG_TERMINATE_IDLE, "Terminate idle connections")],
}


@dataclass(frozen=True)
class QuickAction:
    label: str
    url: str


@dataclass(frozen=True)
class WorkloadActions:
    workload: Workload
    environment: str
    actions: list[QuickAction]


def _quick(workload: Workload, incident: Incident) -> WorkloadActions:
    reason = f"{incident.reference}: {incident.title}"
    prefill = {"target": workload.target.slug, "incident": incident.pk, "reason": reason}
    if workload.namespace is not None:
        prefill |= {"namespace": workload.namespace.name, "deployment": workload.deployment}
    environment = (workload.namespace or workload.target).get_environment_display()
    links = [
        QuickAction(label, f"{reverse('action-new')}?{urlencode(prefill | {'kind': kind.value})}")
        for kind, label in QUICK_ACTIONS[Target.Kind(workload.target.kind)]
    ]
    return WorkloadActions(workload, environment, links)


@register.inclusion_tag("components/incident_actions.html", takes_context=True)
def incident_actions(context: template.Context, incident: Incident) -> dict[str, object]:
    """The incident page's Actions card: prefilled actions on what its services run on, and its recent runs."""
    return {
        "incident": incident,
        "workloads": [_quick(workload, incident) for workload in workloads_of(incident)],
        "runs": list(action_runs().filter(incident=incident)[:5]),
        "is_responder": context.get("is_responder", False),
    }
