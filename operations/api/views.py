"""The operations API: Viewers read; Responders record (deployments, SLI values, drills, backup checks) and tick
checklists; Admins configure (SLOs, burn-rate rules, objectives, schedules, runbooks, checklist templates)."""

import yaml
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, renderers, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Incident, Service
from maintenance.models import MaintenanceOccurrence
from operations.api.serializers import (
    AlertRuleSerializer,
    BackupScheduleSerializer,
    BackupVerificationOutput,
    BurnAlertOutput,
    BurnRateRuleSerializer,
    ChecklistDetailOutput,
    ChecklistOutput,
    ChecklistTemplateSerializer,
    DeploymentDetailOutput,
    DeploymentOutput,
    DrillPlanSerializer,
    DrillRecordOutput,
    OperationsChecklistItemOutput,
    ProcedureOutput,
    ProcedureRunOutput,
    RecoveryObjectiveSerializer,
    RunbookOutput,
    SliSampleOutput,
    SloSerializer,
)
from operations.filters import BurnAlertFilter, ChecklistFilter, DeploymentFilter
from operations.models import (
    AlertRule,
    BackupSchedule,
    BackupVerification,
    BurnAlert,
    BurnRateRule,
    Checklist,
    ChecklistItem,
    ChecklistTemplate,
    Deployment,
    DrillPlan,
    DrillRecord,
    Procedure,
    ProcedureRun,
    RecoveryObjective,
    Runbook,
    SliSample,
    Slo,
)
from operations.quick_actions import ActionKind
from operations.selectors.alerting import alert_rule_list, rules_file
from operations.selectors.checklists import checklist_detail, checklist_list
from operations.selectors.deployments import deployment_detail, deployment_list
from operations.selectors.procedures import procedure_list, procedure_run_list
from operations.selectors.recovery import backup_verifications, drill_records
from operations.selectors.runbooks import runbook_list
from operations.selectors.slo import burn_alerts, slo_list, slo_statuses
from operations.services.checklists import checklist_item_set_done
from operations.services.deployments import deployment_record, deployment_set_status, deployment_start
from operations.services.procedures import procedure_run_abandon, procedure_run_start, procedure_step_done
from operations.services.recovery import backup_verification_record, drill_record
from operations.services.runbooks import QuickActionSpec, runbook_save
from operations.services.slo import sli_sample_record
from portal.accounts.models import User
from portal.accounts.permissions import role_permission, writes_need
from portal.accounts.roles import Role
from portal.core.api import fields
from portal.core.api.schema import error_response
from portal.core.models import Environment

Responders = role_permission(Role.RESPONDER)
AdminsWrite = writes_need(Role.ADMIN)


class ReadOrRespond(generics.GenericAPIView):
    """GET for Viewers, POST for Responders."""

    def get_permissions(self) -> list:
        return [Responders()] if self.request.method == "POST" else super().get_permissions()


# SLOs


class SloViewSet(viewsets.ModelViewSet):
    """SLOs with their 30-day error budget and burn rates (Admins configure them)."""

    serializer_class = SloSerializer
    permission_classes = [AdminsWrite]
    lookup_field = "slug"
    filterset_fields = ["source", "active"]

    def get_queryset(self) -> QuerySet[Slo]:
        return slo_list().order_by("name")

    def get_serializer_context(self) -> dict[str, object]:
        context = super().get_serializer_context()
        objects = getattr(self, "_shown", None)
        if objects:
            context["statuses"] = {item.slo.pk: item for item in slo_statuses(objects, now=timezone.now())}
        return context

    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self._shown = list(page or [])
        return self.get_paginated_response(self.get_serializer(self._shown, many=True).data)

    def retrieve(self, request: Request, *args: object, **kwargs: object) -> Response:
        self._shown = [self.get_object()]
        return Response(self.get_serializer(self._shown[0]).data)


class SliSampleListApi(ReadOrRespond, generics.ListAPIView):
    """An SLO's SLI values, newest first; POST records one measured elsewhere (Responders; e.g. a RUM pipeline)."""

    serializer_class = SliSampleOutput

    class SliSampleInput(serializers.Serializer):
        start = fields.DateTimeField()
        seconds = serializers.IntegerField(required=False, min_value=1, help_text="Default: SLI_STEP_SECONDS.")
        value = serializers.FloatField()

    def get_queryset(self) -> QuerySet[SliSample]:
        if getattr(self, "swagger_fake_view", False):
            return SliSample.objects.none()
        return get_object_or_404(Slo, slug=self.kwargs["slug"]).samples.select_related("recorded_by")

    @extend_schema(request=SliSampleInput, responses={201: SliSampleOutput})
    def post(self, request: Request, slug: str) -> Response:
        payload = self.SliSampleInput(data=request.data)
        payload.is_valid(raise_exception=True)
        sample = sli_sample_record(slo=get_object_or_404(Slo, slug=slug), actor=request.user, **payload.validated_data)
        return Response(SliSampleOutput(sample).data, status=status.HTTP_201_CREATED)


class BurnRateRuleViewSet(viewsets.ModelViewSet):
    """The multi-window burn-rate alerts every SLO is watched with."""

    queryset = BurnRateRule.objects.all()
    serializer_class = BurnRateRuleSerializer
    permission_classes = [AdminsWrite]


class BurnAlertListApi(generics.ListAPIView):
    """Burn-rate episodes: each was notified once when it started and once when it ended."""

    serializer_class = BurnAlertOutput
    filterset_class = BurnAlertFilter

    def get_queryset(self) -> QuerySet[BurnAlert]:
        return burn_alerts()


# Disaster recovery and backups


class RecoveryObjectiveViewSet(viewsets.ModelViewSet):
    queryset = RecoveryObjective.objects.all()
    serializer_class = RecoveryObjectiveSerializer
    permission_classes = [AdminsWrite]


class BackupScheduleViewSet(viewsets.ModelViewSet):
    queryset = BackupSchedule.objects.all()
    serializer_class = BackupScheduleSerializer
    permission_classes = [AdminsWrite]


class DrillPlanViewSet(viewsets.ModelViewSet):
    """The quarterly DR testing schedule."""

    queryset = DrillPlan.objects.select_related("objective")
    serializer_class = DrillPlanSerializer
    permission_classes = [AdminsWrite]


class BackupVerificationListApi(ReadOrRespond, generics.ListAPIView):
    """One record per day that the backups were checked; POST records today's (Responders)."""

    serializer_class = BackupVerificationOutput

    class BackupVerificationInput(serializers.Serializer):
        day = fields.DateField()
        result = serializers.ChoiceField(choices=BackupVerification.Result.choices)
        notes = fields.TextField(required=False, allow_blank=True, default="")

    def get_queryset(self) -> QuerySet[BackupVerification]:
        return backup_verifications()

    @extend_schema(
        request=BackupVerificationInput,
        responses={201: BackupVerificationOutput, 409: error_response("That day's backups are verified already.")},
    )
    def post(self, request: Request) -> Response:
        payload = self.BackupVerificationInput(data=request.data)
        payload.is_valid(raise_exception=True)
        verification = backup_verification_record(actor=request.user, **payload.validated_data)
        return Response(BackupVerificationOutput(verification).data, status=status.HTTP_201_CREATED)


class DrillRecordListApi(ReadOrRespond, generics.ListAPIView):
    """DR drills run, with measured RTO and RPO against the targets; POST records one (Responders)."""

    serializer_class = DrillRecordOutput
    filterset_fields = ["year", "plan"]

    class DrillRecordInput(serializers.Serializer):
        plan = serializers.SlugRelatedField(
            slug_field="quarter",
            queryset=DrillPlan.objects.select_related("objective"),
            required=False,
            allow_null=True,
            help_text="The quarter (1-4) of the plan.",
        )
        objective = serializers.SlugRelatedField(slug_field="component", queryset=RecoveryObjective.objects.all(),
                                                 required=False, allow_null=True)  # fmt: skip
        year = serializers.IntegerField(required=False, min_value=2000, max_value=2100)
        procedure_run = serializers.PrimaryKeyRelatedField(
            queryset=ProcedureRun.objects.select_related("drill_plan__objective"), required=False, allow_null=True,
            help_text="The completed drill run: its start, plan and duration are the defaults.",
        )  # fmt: skip
        performed_at = fields.DateTimeField(required=False)
        measured_rto_minutes = serializers.IntegerField(min_value=0, required=False)
        measured_rpo_minutes = serializers.IntegerField(min_value=0)
        notes = fields.TextField(required=False, allow_blank=True, default="")

    def get_queryset(self) -> QuerySet[DrillRecord]:
        return drill_records()

    @extend_schema(request=DrillRecordInput, responses={201: DrillRecordOutput})
    def post(self, request: Request) -> Response:
        payload = self.DrillRecordInput(data=request.data)
        payload.is_valid(raise_exception=True)
        record = drill_record(actor=request.user, **payload.validated_data)
        return Response(DrillRecordOutput(drill_records().get(pk=record.pk)).data, status=status.HTTP_201_CREATED)


# Runbooks


class QuickActionInput(serializers.Serializer):
    label = fields.LineField(max_length=100)
    kind = serializers.ChoiceField(choices=ActionKind.choices)
    target = fields.LineField(required=False, allow_blank=True, default="", max_length=200)
    deployment = fields.LineField(required=False, allow_blank=True, default="", max_length=200)
    namespace = fields.LineField(required=False, allow_blank=True, default="", max_length=200)
    replicas = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=1000)


class RunbookInput(serializers.Serializer):
    slug = serializers.SlugField(max_length=100)
    title = fields.LineField(max_length=200)
    when = fields.LineField(max_length=300)
    body = fields.TextField()
    owner = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True),
                                         required=False, allow_null=True)  # fmt: skip
    owner_team = fields.LineField(required=False, allow_blank=True, max_length=100)
    last_reviewed_on = fields.DateField()
    review_interval_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)
    alertnames = serializers.ListField(child=fields.LineField(max_length=200), required=False)
    quick_actions = QuickActionInput(many=True, required=False)


def _runbook_save(runbook: Runbook | None, data: dict) -> Runbook:
    alertnames = data.pop("alertnames", None)
    actions = data.pop("quick_actions", None)
    specs = None if actions is None else [QuickActionSpec(**action) for action in actions]
    return runbook_save(runbook=runbook, fields=data, alertnames=alertnames, quick_actions=specs)


class RunbookListApi(generics.ListAPIView):
    """Runbooks with their alert names and quick actions; POST adds one (Admins)."""

    serializer_class = RunbookOutput
    permission_classes = [AdminsWrite]

    def get_queryset(self) -> QuerySet[Runbook]:
        return runbook_list()

    @extend_schema(request=RunbookInput, responses={201: RunbookOutput})
    def post(self, request: Request) -> Response:
        payload = RunbookInput(data=request.data)
        payload.is_valid(raise_exception=True)
        runbook = _runbook_save(None, dict(payload.validated_data))
        return Response(RunbookOutput(runbook_list().get(pk=runbook.pk)).data, status=status.HTTP_201_CREATED)


class RunbookDetailApi(APIView):
    """One runbook; PATCH changes it (alert names and quick actions, when given, replace the old ones; Admins)."""

    permission_classes = [AdminsWrite]

    @extend_schema(responses=RunbookOutput)
    def get(self, request: Request, slug: str) -> Response:
        return Response(RunbookOutput(get_object_or_404(runbook_list(), slug=slug)).data)

    @extend_schema(request=RunbookInput(partial=True), responses=RunbookOutput)
    def patch(self, request: Request, slug: str) -> Response:
        payload = RunbookInput(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        runbook = _runbook_save(get_object_or_404(Runbook, slug=slug), dict(payload.validated_data))
        return Response(RunbookOutput(runbook_list().get(pk=runbook.pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str) -> Response:
        get_object_or_404(Runbook, slug=slug).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


# Deployments


class DeploymentListApi(ReadOrRespond, generics.ListAPIView):
    """The deployments log, newest first. POST is what CI calls (Responders' tokens): a deployment during a freeze
    is a 409 with the gate's reasons and the rule of its level, unless what the level accepts is given (`change`
    naming an approved freeze exception, an emergency's `incident`). A production deployment recorded as started has
    its pre-deployment items open: a 409 lists them unless `override_reason` says why. `status=planned` records one
    to start later (`started_at` is then its planned time) through `deployments/{id}/start/`."""

    serializer_class = DeploymentOutput
    filterset_class = DeploymentFilter

    class DeploymentInput(serializers.Serializer):
        service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all())
        environment = serializers.ChoiceField(choices=Environment.choices)
        version = fields.LineField(max_length=100)
        commit = serializers.RegexField(r"^[0-9a-f]{7,40}$", max_length=40,
                                        error_messages={"invalid": "Give 7 to 40 lowercase hex digits."})  # fmt: skip
        who = fields.LineField(max_length=150)
        status = serializers.ChoiceField(choices=Deployment.Status.choices, required=False,
                                         default=Deployment.Status.STARTED)  # fmt: skip
        change = fields.LineField(required=False, allow_blank=True, default="", max_length=200)
        external_id = fields.LineField(required=False, allow_blank=True, default="", max_length=200)
        started_at = fields.DateTimeField(required=False)
        incident = serializers.PrimaryKeyRelatedField(
            queryset=Incident.objects.select_related("severity"), required=False, allow_null=True,
            help_text="The open P1/P2 an emergency deployment answers.",
        )  # fmt: skip
        override_reason = fields.LineField(
            required=False, allow_blank=True, default="", max_length=300,
            help_text="Why it starts with pre-deployment items open (kept on the deployment).",
        )  # fmt: skip

    def get_queryset(self) -> QuerySet[Deployment]:
        return deployment_list()

    @extend_schema(
        request=DeploymentInput,
        responses={
            201: DeploymentDetailOutput,
            200: DeploymentDetailOutput,
            409: error_response("A freeze refuses the deployment (`freeze` has its level, rule and reasons), "
                                "pre-deployment items are open (`open_items`), or `external_id` names another "
                                "deployment."),
        },
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        payload = self.DeploymentInput(data=request.data)
        payload.is_valid(raise_exception=True)
        deployment, created = deployment_record(actor=request.user, **payload.validated_data)
        body = DeploymentDetailOutput(deployment_detail().get(pk=deployment.pk)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class DeploymentDetailApi(generics.RetrieveAPIView):
    """One deployment with its checklists."""

    serializer_class = DeploymentDetailOutput

    def get_queryset(self) -> QuerySet[Deployment]:
        return deployment_detail()


class DeploymentStartApi(APIView):
    """A planned deployment starts now (Responders): 409 listing the open pre-deployment items unless
    `override_reason` says why, or with the freeze's answer when a freeze refuses it."""

    permission_classes = [Responders]

    class DeploymentStartInput(serializers.Serializer):
        override_reason = fields.LineField(required=False, allow_blank=True, default="", max_length=300)
        incident = serializers.PrimaryKeyRelatedField(
            queryset=Incident.objects.select_related("severity"), required=False, allow_null=True,
            help_text="The open P1/P2 an emergency deployment answers.",
        )  # fmt: skip

    @extend_schema(
        request=DeploymentStartInput,
        responses={
            200: DeploymentDetailOutput,
            409: error_response("Not planned, pre-deployment items are open (`open_items`), or a freeze refuses it."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = self.DeploymentStartInput(data=request.data)
        payload.is_valid(raise_exception=True)
        deployment = deployment_start(
            deployment=get_object_or_404(Deployment, pk=pk), actor=request.user, **payload.validated_data
        )
        return Response(DeploymentDetailOutput(deployment_detail().get(pk=deployment.pk)).data)


class DeploymentStatusApi(APIView):
    """CI reports how the deployment ended: succeeded, failed or rolled back (Responders)."""

    permission_classes = [Responders]

    class DeploymentStatusInput(serializers.Serializer):
        status = serializers.ChoiceField(choices=Deployment.Status.choices)

    @extend_schema(request=DeploymentStatusInput, responses=DeploymentOutput)
    def post(self, request: Request, pk: int) -> Response:
        payload = self.DeploymentStatusInput(data=request.data)
        payload.is_valid(raise_exception=True)
        deployment = deployment_set_status(deployment=get_object_or_404(Deployment, pk=pk), **payload.validated_data)
        return Response(DeploymentOutput(deployment_list().get(pk=deployment.pk)).data)


# Checklists


class ChecklistTemplateViewSet(viewsets.ModelViewSet):
    queryset = ChecklistTemplate.objects.select_related("service")
    serializer_class = ChecklistTemplateSerializer
    permission_classes = [AdminsWrite]
    filterset_fields = ["kind", "active"]


class ChecklistListApi(generics.ListAPIView):
    """Checklists, newest period first, filterable by kind, open, overdue and assignee."""

    serializer_class = ChecklistOutput
    filterset_class = ChecklistFilter

    def get_queryset(self) -> QuerySet[Checklist]:
        return checklist_list().order_by("-period_start", "-created_at", "-pk")


class ChecklistDetailApi(generics.RetrieveAPIView):
    serializer_class = ChecklistDetailOutput

    def get_queryset(self) -> QuerySet[Checklist]:
        return checklist_detail()


class ChecklistItemApi(APIView):
    """Tick (`done: true`) or untick an item (Responders)."""

    permission_classes = [Responders]

    class OperationsChecklistItemInput(serializers.Serializer):
        done = serializers.BooleanField()

    @extend_schema(request=OperationsChecklistItemInput, responses=OperationsChecklistItemOutput)
    def patch(self, request: Request, pk: int, item_pk: int) -> Response:
        payload = self.OperationsChecklistItemInput(data=request.data)
        payload.is_valid(raise_exception=True)
        item = get_object_or_404(ChecklistItem, pk=item_pk, checklist_id=pk)
        item = checklist_item_set_done(item=item, actor=request.user, **payload.validated_data)
        return Response(
            OperationsChecklistItemOutput(ChecklistItem.objects.select_related("done_by").get(pk=item.pk)).data
        )


# The alert catalogue


class AlertRuleViewSet(viewsets.ModelViewSet):
    """The alert catalogue: the seeds' critical alerts and key-metric thresholds, each with its owner team, severity
    and runbook (Admins configure it). `GET /api/v1/alerts/rules.yaml` exports it for Prometheus."""

    serializer_class = AlertRuleSerializer
    permission_classes = [AdminsWrite]
    filterset_fields = ["enabled", "is_critical_alert", "name"]

    def get_queryset(self) -> QuerySet[AlertRule]:
        return alert_rule_list()


class YamlRenderer(renderers.BaseRenderer):
    """application/yaml, for the rules file; errors render as YAML too when that is all the client accepts."""

    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data: object, accepted_media_type: str | None = None, renderer_context: object = None) -> bytes:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode() if data is not None else b""


class AlertRulesFileApi(APIView):
    """The alert catalogue and the SLOs' multiwindow burn-rate alerts as a Prometheus rules file (`rule_files:`).
    Alerts carry a `severity` label the alert intake maps back to the catalogue's severity, and `runbook_url`."""

    renderer_classes = [renderers.JSONRenderer, YamlRenderer]

    @extend_schema(
        responses={
            (200, "application/yaml"): OpenApiTypes.OBJECT,
            404: error_response("No renderer for that `format` (json or yaml)."),
        }
    )
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(rules_file(), content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="broxiva-rules.yaml"'
        return response


# Procedures


class ProcedureViewSet(viewsets.ReadOnlyModelViewSet):
    """The seeds' step lists (Admins edit them in the admin); runs are started at /procedure-runs/."""

    queryset = procedure_list()
    serializer_class = ProcedureOutput
    lookup_field = "slug"


class ProcedureRunListApi(ReadOrRespond, generics.ListAPIView):
    """Runs of procedures, newest first; POST starts one for an incident or as a DR drill (Responders)."""

    serializer_class = ProcedureRunOutput
    filterset_fields = ["procedure__slug", "incident", "maintenance", "kind", "status"]

    class ProcedureRunInput(serializers.Serializer):
        procedure = serializers.SlugRelatedField(slug_field="slug", queryset=Procedure.objects.all())
        kind = serializers.ChoiceField(choices=ProcedureRun.Kind.choices)
        incident = serializers.PrimaryKeyRelatedField(queryset=Incident.objects.all(), required=False, allow_null=True)
        drill_plan = serializers.SlugRelatedField(
            slug_field="quarter", queryset=DrillPlan.objects.select_related("objective"), required=False,
            allow_null=True, help_text="A drill's plan, by quarter (1-4).",
        )  # fmt: skip
        maintenance = serializers.PrimaryKeyRelatedField(
            queryset=MaintenanceOccurrence.objects.all(), required=False, allow_null=True,
            help_text="The maintenance occurrence (e.g. emergency maintenance) the run is for.",
        )  # fmt: skip
        notes = fields.TextField(required=False, allow_blank=True, default="")

    def get_queryset(self) -> QuerySet[ProcedureRun]:
        return procedure_run_list()

    @extend_schema(request=ProcedureRunInput, responses={201: ProcedureRunOutput})
    def post(self, request: Request) -> Response:
        payload = self.ProcedureRunInput(data=request.data)
        payload.is_valid(raise_exception=True)
        run = procedure_run_start(actor=request.user, **payload.validated_data)
        return Response(ProcedureRunOutput(procedure_run_list().get(pk=run.pk)).data, status=status.HTTP_201_CREATED)


class ProcedureRunDetailApi(generics.RetrieveAPIView):
    serializer_class = ProcedureRunOutput

    def get_queryset(self) -> QuerySet[ProcedureRun]:
        return procedure_run_list()


class ProcedureRunStepDoneApi(APIView):
    """Record the run's next step as done by the caller, now; its effect runs with it (Responders)."""

    permission_classes = [Responders]

    class StepDoneInput(serializers.Serializer):
        note = fields.TextField(required=False, allow_blank=True, default="", max_length=500)

    @extend_schema(
        request=StepDoneInput,
        responses={200: ProcedureRunOutput, 409: error_response("Not the next step, or the run is finished.")},
    )
    def post(self, request: Request, pk: int, position: int) -> Response:
        payload = self.StepDoneInput(data=request.data)
        payload.is_valid(raise_exception=True)
        run = get_object_or_404(ProcedureRun, pk=pk)
        procedure_step_done(run=run, position=position - 1, actor=request.user, **payload.validated_data)
        return Response(ProcedureRunOutput(procedure_run_list().get(pk=pk)).data)


class ProcedureRunAbandonApi(APIView):
    permission_classes = [Responders]

    class AbandonInput(serializers.Serializer):
        reason = fields.TextField()

    @extend_schema(
        request=AbandonInput, responses={200: ProcedureRunOutput, 409: error_response("The run is finished.")}
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = self.AbandonInput(data=request.data)
        payload.is_valid(raise_exception=True)
        procedure_run_abandon(run=get_object_or_404(ProcedureRun, pk=pk), actor=request.user,
                              **payload.validated_data)  # fmt: skip
        return Response(ProcedureRunOutput(procedure_run_list().get(pk=pk)).data)
