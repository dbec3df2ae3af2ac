"""The cluster actions REST API: Viewers read; Responders and above request, confirm, approve and cancel, and the
policy decides which action, where, for whom (a refusal is a 403 saying why)."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Incident
from portal import kube
from portal.accounts.permissions import role_permission, writes_need
from portal.accounts.roles import Role
from portal.cluster.actions import PARAMETER_NAMES, SPECS
from portal.cluster.api.serializers import (
    ActionRunDetailOutput,
    ActionRunOutput,
    LookOutput,
    NamespaceSerializer,
    TargetSerializer,
    WorkloadSerializer,
)
from portal.cluster.filters import ActionRunFilter, LookFilter
from portal.cluster.looks import PARAMETER_NAMES as LOOK_PARAMETER_NAMES
from portal.cluster.models import RESOLUTIONS, ActionKind, ActionRun, Look, LookKind, Namespace, Target, Workload
from portal.cluster.selectors import action_run_detail, action_runs, cluster_nodes, looks_list, targets
from portal.cluster.services import (
    action_run_approve,
    action_run_cancel,
    action_run_confirm,
    action_run_reject,
    action_run_request,
    action_run_resolve,
    look_request,
)
from portal.core.api import fields
from portal.core.api.schema import error_response

Responders = role_permission(Role.RESPONDER)
NOT_NOW = error_response("The run is not in a state that allows this (any more).")


def _detail(run: ActionRun, status_code: int = 200) -> Response:
    return Response(ActionRunDetailOutput(action_run_detail().get(pk=run.pk)).data, status=status_code)


def _run(pk: int) -> ActionRun:
    return get_object_or_404(ActionRun, pk=pk)


KIND_HELP = "; ".join(
    f"{kind.value}: {', '.join(p.name for p in spec.params) or 'no parameters'}" for kind, spec in SPECS.items()
)


@method_decorator(sensitive_post_parameters("value"), name="dispatch")
class ActionRunListApi(generics.ListAPIView):
    """Action runs, newest first. POST requests one (Responders and above; the policy decides the rest)."""

    serializer_class = ActionRunOutput
    filterset_class = ActionRunFilter

    class ActionRunCreateInput(serializers.Serializer):
        kind = serializers.ChoiceField(choices=ActionKind.choices, help_text=f"Parameters per kind: {KIND_HELP}.")
        target = serializers.SlugRelatedField(slug_field="slug", queryset=Target.objects.all())
        reason = fields.TextField(help_text="Why: on the record and on the incident's timeline.")
        incident = serializers.PrimaryKeyRelatedField(
            queryset=Incident.objects.select_related("severity"), required=False, allow_null=True
        )
        emergency = serializers.BooleanField(
            required=False, default=False, help_text="An emergency change linked to an open P1/P2 may run in a freeze."
        )
        confirm = serializers.BooleanField(
            required=False,
            default=True,
            help_text="False records a preview (status requested, with its command and expectation) to confirm "
            "with POST .../confirm/ within the confirmation window.",
        )
        namespace = fields.LineField(required=False, max_length=63)
        deployment = fields.LineField(required=False, max_length=253)
        node = fields.LineField(required=False, max_length=253)
        replicas = serializers.IntegerField(required=False, min_value=0)
        to_revision = serializers.IntegerField(required=False, min_value=1, help_text="Rollback; empty: previous.")
        timeout_seconds = serializers.IntegerField(required=False, min_value=1)
        grace_period_seconds = serializers.IntegerField(required=False, min_value=-1)
        delete_emptydir_data = serializers.BooleanField(required=False)
        force = serializers.BooleanField(required=False)
        pattern = fields.LineField(required=False, max_length=200)
        batch_size = serializers.IntegerField(required=False, min_value=1)
        idle_minutes = serializers.IntegerField(required=False, min_value=0)
        pid = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
        table = fields.LineField(required=False, max_length=127)
        secret = fields.LineField(required=False, max_length=253)
        key = fields.LineField(required=False, max_length=253)
        generate = serializers.BooleanField(required=False)
        length = serializers.IntegerField(required=False, min_value=16, max_value=256)
        restart = serializers.BooleanField(required=False)
        value = fields.TextField(
            required=False, allow_blank=True, trim_whitespace=False, max_length=8000, write_only=True,
            help_text="secret_set: the value, typed once; never returned, logged or audited (it may also come with "
            "the confirmation).",
        )  # fmt: skip

    def get_queryset(self) -> QuerySet[ActionRun]:
        return action_runs()

    def get_permissions(self) -> list:
        return [Responders()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(request=ActionRunCreateInput, responses={201: ActionRunDetailOutput})
    def post(self, request: Request) -> Response:
        payload = self.ActionRunCreateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        run = action_run_request(
            requester=request.user,
            target=data["target"],
            kind=data["kind"],
            parameters={name: data[name] for name in PARAMETER_NAMES if name in data},
            reason=data["reason"],
            incident=data.get("incident"),
            emergency=data["emergency"],
            confirm=data["confirm"],
            secret_value=data.get("value", ""),
        )
        return _detail(run, status.HTTP_201_CREATED)


class ActionRunDetailApi(APIView):
    """One run with its approvals and progress lines."""

    @extend_schema(responses=ActionRunDetailOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ActionRunDetailOutput(get_object_or_404(action_run_detail(), pk=pk)).data)


@method_decorator(sensitive_post_parameters("value"), name="dispatch")
class ActionRunConfirmApi(APIView):
    """The requester confirms a previewed run: it goes to approval, or to the queue. Setting a secret's key takes
    the value here, if it was not sent with the request."""

    permission_classes = [Responders]

    class ActionRunConfirmInput(serializers.Serializer):
        value = fields.TextField(
            required=False, allow_blank=True, trim_whitespace=False, max_length=8000, write_only=True, default=""
        )

    @extend_schema(
        request=ActionRunConfirmInput,
        responses={
            200: ActionRunDetailOutput,
            409: error_response("Not a request awaiting confirmation, or its preview is too old to confirm."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = self.ActionRunConfirmInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _detail(
            action_run_confirm(run=_run(pk), actor=request.user, secret_value=payload.validated_data["value"])
        )


class ActionRunApproveApi(APIView):
    """A second person approves a run that needs it (never the requester); it is then queued."""

    permission_classes = [Responders]

    class ActionRunApproveInput(serializers.Serializer):
        comment = fields.TextField(required=False, allow_blank=True, default="")

    @extend_schema(request=ActionRunApproveInput, responses={200: ActionRunDetailOutput, 409: NOT_NOW})
    def post(self, request: Request, pk: int) -> Response:
        payload = self.ActionRunApproveInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _detail(action_run_approve(run=_run(pk), approver=request.user, **payload.validated_data))


class ActionRunRejectApi(APIView):
    """A second person rejects a run awaiting approval, saying why."""

    permission_classes = [Responders]

    class ActionRunRejectInput(serializers.Serializer):
        comment = fields.TextField()

    @extend_schema(request=ActionRunRejectInput, responses={200: ActionRunDetailOutput, 409: NOT_NOW})
    def post(self, request: Request, pk: int) -> Response:
        payload = self.ActionRunRejectInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _detail(action_run_reject(run=_run(pk), approver=request.user, **payload.validated_data))


class ActionRunCancelApi(APIView):
    """Withdraw a run before it starts (its requester, or an Incident Commander); a running one is a 409."""

    permission_classes = [Responders]

    @extend_schema(request=None, responses={200: ActionRunDetailOutput, 409: NOT_NOW})
    def post(self, request: Request, pk: int) -> Response:
        return _detail(action_run_cancel(run=_run(pk), actor=request.user))


class ActionRunResolveApi(APIView):
    """An Incident Commander closes an abandoned run after checking its target: what they found, and a note. Nothing
    runs again; the audit log and the incident's timeline name who decided."""

    permission_classes = [role_permission(Role.INCIDENT_COMMANDER)]

    class ActionRunResolveInput(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=[(status.value, status.label) for status in RESOLUTIONS])
        note = fields.TextField(help_text="What was found on the target.")

    @extend_schema(
        request=ActionRunResolveInput,
        responses={200: ActionRunDetailOutput, 409: error_response("The run is not abandoned.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = self.ActionRunResolveInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _detail(action_run_resolve(run=_run(pk), actor=request.user, **payload.validated_data))


class LookListApi(generics.ListAPIView):
    """Looks (read-only: pods, events, logs, top, rollout status, data-store statistics), newest first. POST asks a
    worker for one (Responders and above, anywhere); poll its detail until `status` is done or failed."""

    serializer_class = LookOutput
    filterset_class = LookFilter

    class LookCreateInput(serializers.Serializer):
        kind = serializers.ChoiceField(choices=LookKind.choices)
        target = serializers.SlugRelatedField(slug_field="slug", queryset=Target.objects.all())
        incident = serializers.PrimaryKeyRelatedField(
            queryset=Incident.objects.all(), required=False, allow_null=True, help_text="Its timeline records it."
        )
        namespace = fields.LineField(required=False, max_length=63)
        selector = fields.LineField(required=False, max_length=253)
        deployment = fields.LineField(required=False, max_length=253)
        pod = fields.LineField(required=False, max_length=253)
        container = fields.LineField(required=False, max_length=63)
        name = fields.LineField(required=False, max_length=253, help_text="Events: about objects named so.")
        tail = serializers.IntegerField(required=False, min_value=1)
        timestamps = serializers.BooleanField(required=False)
        previous = serializers.BooleanField(required=False)
        filter = fields.LineField(required=False, max_length=200, help_text="Logs: only lines containing this.")
        min_seconds = serializers.IntegerField(required=False, min_value=0)
        limit = serializers.IntegerField(required=False, min_value=1)

    def get_queryset(self) -> QuerySet[Look]:
        return looks_list()

    def get_permissions(self) -> list:
        return [Responders()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(request=LookCreateInput, responses={201: LookOutput})
    def post(self, request: Request) -> Response:
        payload = self.LookCreateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        look = look_request(
            requester=request.user,
            target=data["target"],
            kind=data["kind"],
            parameters={name: data[name] for name in LOOK_PARAMETER_NAMES if name in data},
            incident=data.get("incident"),
        )
        return Response(LookOutput(looks_list().get(pk=look.pk)).data, status=status.HTTP_201_CREATED)


class LookDetailApi(generics.RetrieveAPIView):
    """One look: its progress while the worker fetches it, then what it found."""

    serializer_class = LookOutput

    def get_queryset(self) -> QuerySet[Look]:
        return looks_list()


class TargetViewSet(viewsets.ModelViewSet):
    """Clusters (by kubeconfig context) and data stores (by URL, write-only) actions run on. Admins edit."""

    serializer_class = TargetSerializer
    permission_classes = [writes_need(Role.ADMIN)]
    lookup_field = "slug"
    filterset_fields = ["kind", "environment", "enabled"]

    def get_queryset(self) -> QuerySet[Target]:
        return targets()


class NodeOutput(serializers.Serializer):
    name = serializers.CharField()
    ready = serializers.BooleanField()
    unschedulable = serializers.BooleanField(help_text="Cordoned: the scheduler places no new pods on it.")


@extend_schema(
    responses={
        200: NodeOutput(many=True),
        404: error_response("No such target, or it is a data store, which has no nodes."),
        502: error_response("The cluster's API server refused to list its nodes."),
        503: error_response("The cluster's API server did not answer, or is not configured."),
    }
)
class TargetNodesApi(generics.ListAPIView):
    """A cluster target's nodes as its API server lists them (cached for a few seconds), by name and paginated like
    every list: the names a node action (cordon, uncordon, drain) takes, as the request form's node picker offers
    them."""

    serializer_class = NodeOutput
    filter_backends: list[type] = []  # a list from the cluster, not a queryset

    def get_queryset(self) -> list[kube.NodeState]:  # type: ignore[override]
        return cluster_nodes(get_object_or_404(Target, slug=self.kwargs["slug"], kind=Target.Kind.KUBERNETES))


class NamespaceViewSet(viewsets.ModelViewSet):
    """A cluster target's namespaces and their environments. Admins edit."""

    queryset = Namespace.objects.select_related("target")
    serializer_class = NamespaceSerializer
    permission_classes = [writes_need(Role.ADMIN)]
    filterset_fields = ["target", "environment"]


class WorkloadViewSet(viewsets.ModelViewSet):
    """What each service runs on, for the incident page's quick actions. Admins edit."""

    queryset = Workload.objects.select_related("service", "target", "namespace")
    serializer_class = WorkloadSerializer
    permission_classes = [writes_need(Role.ADMIN)]
    filterset_fields = ["service", "target"]
