from collections.abc import Mapping

from django import forms
from django.urls import reverse_lazy

from incidents.models import Incident
from portal import kube
from portal.accounts.models import User
from portal.cluster.actions import PARAMETER_NAMES, SPECS, Param, kinds_for
from portal.cluster.models import RESOLUTIONS, ActionKind, ActionRun, LookKind, Target
from portal.cluster.selectors import cluster_nodes
from portal.core import forms as portal_forms
from portal.core.models import Environment
from portal.errors import ApplicationError

CLOSED = (Incident.Status.RESOLVED, Incident.Status.REVIEW, Incident.Status.CLOSED)


def _parameter_field(param: Param) -> forms.Field:
    # Required parameters are checked by the service, per kind, with the same message the API gives.
    options = {"required": False, "label": param.label, "help_text": param.help}
    if param.type is bool:
        return forms.BooleanField(**options)
    if param.type is int:
        return forms.IntegerField(min_value=param.minimum, max_value=param.maximum, initial=param.default, **options)
    return portal_forms.LineField(max_length=253, **options)


def prefill(query: Mapping[str, str]) -> dict[str, str]:
    """The request form's initial values from a link: an incident's quick actions name the target by slug; runbook
    quick actions (`operations.quick_actions`, on main) name none and call a node or a key pattern `target`. Without
    a target, the one enabled target that fits the action (and its namespace), if there is just one, is chosen."""
    initial = dict(query)
    kind = initial.get("kind", "")
    if kind not in ActionKind.values or Target.objects.filter(slug=initial.get("target", ""), enabled=True).exists():
        return initial
    spec = SPECS[ActionKind(kind)]
    named = initial.pop("target", "")
    if named and spec.scope == "node":
        initial.setdefault("node", named)
    elif named and kind == ActionKind.REDIS_DELETE_PATTERN:
        initial.setdefault("pattern", named)
    fitting = Target.objects.filter(enabled=True, kind=spec.target_kind)
    if spec.scope == "deployment" and initial.get("namespace"):
        fitting = fitting.filter(namespaces__name=initial["namespace"])
    slugs = list(fitting.values_list("slug", flat=True)[:2])
    if len(slugs) == 1:
        initial["target"] = slugs[0]
    return initial


# Fields that change where the request stands (its environment, its emergency) without changing the form's fields:
# changing one redraws only the guidance beside Continue.
REDRAWS_GUIDANCE = {
    "hx-get": reverse_lazy("action-guidance"),
    "hx-include": "closest form",
    "hx-target": "#action-guidance",
    "hx-swap": "outerHTML",
}


def _node_label(node: kube.NodeState) -> str:
    """As `kubectl get nodes` states it: a node's name, and NotReady or SchedulingDisabled when so."""
    states = ([] if node.ready else ["NotReady"]) + (["SchedulingDisabled"] if node.unschedulable else [])
    return f"{node.name} ({', '.join(states)})" if states else node.name


class ActionRequestForm(forms.Form):
    """One form for every action: the fields shown are those of the chosen kind on the chosen target. A node is
    picked from the cluster's own list, or typed when the cluster cannot be asked (`nodes_unavailable` says why)."""

    target = forms.ModelChoiceField(queryset=Target.objects.filter(enabled=True), to_field_name="slug")
    kind = forms.ChoiceField(choices=ActionKind.choices, label="Action")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="On the record and the timeline.")
    incident = forms.ModelChoiceField(
        queryset=Incident.objects.exclude(status__in=CLOSED).select_related("severity"), required=False
    )
    emergency = forms.BooleanField(
        required=False, label="Emergency change (may run during a freeze when linked to an open P1 or P2)"
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Kinds share parameter names with their own bounds and defaults (a rollout's wait, a drain's timeout):
        # the chosen kind's definition wins.
        kind = self.chosen_kind()
        definitions = {param.name: param for spec in reversed(SPECS.values()) for param in spec.params}
        definitions |= {param.name: param for param in SPECS[kind].params} if kind else {}
        for name in PARAMETER_NAMES:
            self.fields[name] = _parameter_field(definitions[name])
        self.target = self._chosen_target()
        if self.target is not None:
            self.fields["kind"].choices = [(kind.value, kind.label) for kind in kinds_for(self.target)]
        if self.target is not None and self.target.kind == Target.Kind.KUBERNETES:
            namespaces = [("", "—")] + [
                (ns.name, f"{ns.name} ({ns.get_environment_display()})") for ns in self.target.namespaces.all()
            ]
            self.fields["namespace"] = forms.ChoiceField(choices=namespaces, required=False, label="Namespace")
            self.fields["namespace"].widget.attrs.update(REDRAWS_GUIDANCE)
        self.nodes_unavailable = ""
        if self.target is not None and kind is not None and SPECS[kind].scope == "node":
            self._pick_nodes(self.target)
        for name in ("incident", "emergency"):
            self.fields[name].widget.attrs.update(REDRAWS_GUIDANCE)

    def _pick_nodes(self, target: Target) -> None:
        try:
            nodes = cluster_nodes(target)
        except ApplicationError as exc:
            self.nodes_unavailable = f"The nodes of {target} could not be listed ({exc.message}): type the node's name."
            return
        choices = [("", "—")] + [(node.name, _node_label(node)) for node in nodes]
        self.fields["node"] = forms.ChoiceField(choices=choices, required=False, label=self.fields["node"].label)

    def _value(self, name: str) -> object:
        return self.data.get(name) if self.is_bound else self.initial.get(name)

    def _chosen_target(self) -> Target | None:
        slug = self._value("target")
        return Target.objects.prefetch_related("namespaces").filter(slug=slug, enabled=True).first() if slug else None

    def chosen_kind(self) -> ActionKind | None:
        kind = self._value("kind")
        return ActionKind(kind) if kind in ActionKind.values else None

    def draft(self, user: User) -> ActionRun | None:
        """The run these values would request, unsaved, for showing where it would stand before Continue; None until
        the target, the action and (for a deployment) the namespace are chosen."""
        kind = self.chosen_kind()
        if self.target is None or kind is None or SPECS[kind].target_kind != self.target.kind:
            return None
        environment = self.target.environment
        if SPECS[kind].scope in ("deployment", "secret"):
            chosen = str(self._value("namespace") or "")
            namespace = next((ns for ns in self.target.namespaces.all() if ns.name == chosen), None)
            if namespace is None:
                return None
            environment = namespace.environment
        incident_id = str(self._value("incident") or "")
        incidents = Incident.objects.select_related("severity")
        incident = incidents.filter(pk=incident_id).first() if incident_id.isdigit() else None
        emergency = str(self._value("emergency") or "").lower() in ("on", "1", "true")
        return ActionRun(
            kind=kind, target=self.target, environment=Environment(environment), incident=incident,
            emergency=emergency, requested_by=user,
        )  # fmt: skip

    def parameter_fields(self) -> list[forms.BoundField]:
        kind = self.chosen_kind()
        return [self[param.name] for param in SPECS[kind].params] if kind else []

    def parameters(self) -> dict[str, object]:
        kind = ActionKind(self.cleaned_data["kind"])
        return {
            param.name: self.cleaned_data[param.name]
            for param in SPECS[kind].params
            if self.cleaned_data.get(param.name) not in (None, "")
        }


class CommentForm(forms.Form):
    comment = forms.CharField(required=False, max_length=1000)


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[(status.value, status.label) for status in RESOLUTIONS], label="What you found"
    )
    note = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 2}), label="Note")


class LookForm(forms.Form):
    """Which look, where, for which incident; its parameters are checked by the service, per kind."""

    target = forms.ModelChoiceField(queryset=Target.objects.filter(enabled=True), to_field_name="slug")
    kind = forms.ChoiceField(choices=LookKind.choices)
    incident = forms.ModelChoiceField(queryset=Incident.objects.all(), required=False)
