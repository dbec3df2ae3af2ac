from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.models import Team
from incidents.alerts import severity_label
from incidents.models import Service, Severity
from operations import policy
from operations.markdown import render_markdown
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
    ProcedureRunStep,
    ProcedureStep,
    QuickAction,
    RecoveryObjective,
    Runbook,
    SliSample,
    Slo,
)
from operations.selectors.procedures import timed_steps
from operations.selectors.slo import SloStatus
from portal.core.api import fields
from portal.core.api.serializers import CleanedModelSerializer


class BudgetOutput(serializers.Serializer):
    allowed_minutes = serializers.FloatField()
    consumed_minutes = serializers.FloatField()
    remaining_minutes = serializers.FloatField()
    remaining_fraction = serializers.FloatField(help_text="1 untouched, 0 spent, below 0 overspent.")
    coverage = serializers.FloatField(help_text="The share of the 30-day window with SLI data.")
    attainment = serializers.FloatField(allow_null=True, help_text="Percent of covered time that was good.")


class BurnOutput(serializers.Serializer):
    rule = serializers.CharField()
    factor = serializers.FloatField()
    long_window_minutes = serializers.IntegerField()
    short_window_minutes = serializers.IntegerField()
    long_burn_rate = serializers.FloatField(allow_null=True)
    short_burn_rate = serializers.FloatField(allow_null=True)


class SloSerializer(CleanedModelSerializer):
    """An SLO's configuration (Admins write it) and, when read, its 30-day budget and burn rates."""

    service = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True
    )
    latest_value = serializers.SerializerMethodField()
    standing = serializers.SerializerMethodField()
    budget = serializers.SerializerMethodField()
    burn_rates = serializers.SerializerMethodField()

    class Meta:
        model = Slo
        fields = [
            "id", "name", "slug", "service", "sli", "measurement", "unit", "comparison", "target", "max_acceptable",
            "method", "time_slice_objective", "source", "prometheus_url", "promql", "active", "last_fetched_at",
            "last_fetch_error", "latest_value", "standing", "budget", "burn_rates",
        ]  # fmt: skip
        read_only_fields = ["last_fetched_at", "last_fetch_error"]

    def _status(self, slo: Slo) -> SloStatus | None:
        return self.context.get("statuses", {}).get(slo.pk)

    def get_latest_value(self, slo: Slo) -> float | None:
        status = self._status(slo)
        return status.latest_value if status else None

    def get_standing(self, slo: Slo) -> str:
        status = self._status(slo)
        return status.standing if status else "unknown"

    @extend_schema_field(BudgetOutput(allow_null=True))
    def get_budget(self, slo: Slo) -> dict[str, float | None] | None:
        status = self._status(slo)
        if status is None:
            return None
        budget = status.budget
        return {
            "allowed_minutes": budget.allowed_seconds / 60,
            "consumed_minutes": budget.consumed_seconds / 60,
            "remaining_minutes": budget.remaining_seconds / 60,
            "remaining_fraction": budget.remaining_fraction,
            "coverage": budget.coverage,
            "attainment": budget.attainment,
        }

    @extend_schema_field(BurnOutput(many=True))
    def get_burn_rates(self, slo: Slo) -> list[dict[str, object]]:
        status = self._status(slo)
        return [
            {"rule": burn.rule.name, "factor": burn.rule.factor, "long_window_minutes": burn.rule.long_window_minutes,
             "short_window_minutes": burn.rule.short_window_minutes, "long_burn_rate": burn.long,
             "short_burn_rate": burn.short}
            for burn in (status.burns if status else [])
        ]  # fmt: skip


class SliSampleOutput(serializers.ModelSerializer):
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    end = serializers.DateTimeField(read_only=True)

    class Meta:
        model = SliSample
        fields = ["id", "start", "end", "seconds", "value", "source", "recorded_by", "created_at"]


class BurnRateRuleSerializer(CleanedModelSerializer):
    class Meta:
        model = BurnRateRule
        fields = ["id", "name", "factor", "long_window_minutes", "short_window_minutes", "action", "enabled"]


class BurnAlertOutput(serializers.ModelSerializer):
    slo = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    rule = serializers.StringRelatedField()

    class Meta:
        model = BurnAlert
        fields = ["id", "slo", "rule", "action", "started_at", "ended_at", "long_burn_rate", "short_burn_rate",
                  "budget_remaining"]  # fmt: skip


class RecoveryObjectiveSerializer(CleanedModelSerializer):
    class Meta:
        model = RecoveryObjective
        fields = ["id", "component", "rpo_minutes", "rpo_max_minutes", "rto_minutes", "rto_max_minutes", "priority",
                  "notes", "position"]  # fmt: skip


class BackupScheduleSerializer(CleanedModelSerializer):
    next_run = serializers.SerializerMethodField(help_text="When it next runs (UTC); empty for continuous backups.")

    class Meta:
        model = BackupSchedule
        fields = ["id", "name", "component", "frequency", "rrule", "start_time", "retention_days",
                  "extended_retention_days", "extended_retention_tier", "position", "next_run"]  # fmt: skip

    def get_next_run(self, schedule: BackupSchedule) -> str | None:
        at = policy.next_backup(schedule, after=timezone.now())
        return at.isoformat() if at else None


class BackupVerificationOutput(serializers.ModelSerializer):
    verified_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = BackupVerification
        fields = ["id", "day", "result", "notes", "verified_by", "verified_at"]


class DrillPlanSerializer(CleanedModelSerializer):
    objective = serializers.SlugRelatedField(slug_field="component", queryset=RecoveryObjective.objects.all())

    class Meta:
        model = DrillPlan
        fields = ["id", "quarter", "test_type", "scope", "objective"]


class DrillRecordOutput(serializers.ModelSerializer):
    plan = serializers.StringRelatedField(allow_null=True)
    objective = serializers.SlugRelatedField(slug_field="component", read_only=True)
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    rto_verdict = serializers.CharField(read_only=True)
    rpo_verdict = serializers.CharField(read_only=True)
    verdict = serializers.CharField(read_only=True)

    class Meta:
        model = DrillRecord
        fields = ["id", "plan", "objective", "year", "performed_at", "measured_rto_minutes", "measured_rpo_minutes",
                  "target_rto_minutes", "max_rto_minutes", "target_rpo_minutes", "max_rpo_minutes", "rto_verdict",
                  "rpo_verdict", "verdict", "notes", "recorded_by", "procedure_run", "created_at"]  # fmt: skip


class QuickActionOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The prefilled cluster-action form.")

    class Meta:
        model = QuickAction
        fields = ["label", "kind", "target", "deployment", "namespace", "replicas", "url"]

    def get_url(self, action: QuickAction) -> str:
        return action.url()


class RunbookOutput(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    alertnames = serializers.SerializerMethodField()
    quick_actions = QuickActionOutput(many=True, read_only=True)
    body_html = serializers.SerializerMethodField(help_text="The Markdown body, rendered and sanitized.")

    class Meta:
        model = Runbook
        fields = ["id", "slug", "title", "when", "body", "body_html", "owner", "owner_team", "last_reviewed_on",
                  "review_interval_days", "alertnames", "quick_actions", "updated_at"]  # fmt: skip

    def get_alertnames(self, runbook: Runbook) -> list[str]:
        return [link.alertname for link in runbook.alert_links.all()]

    def get_body_html(self, runbook: Runbook) -> str:
        return str(render_markdown(runbook.body))


class DeploymentOutput(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    deployed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Deployment
        fields = ["id", "service", "environment", "version", "commit", "who", "deployed_by", "status", "change",
                  "external_id", "started_at", "finished_at", "freeze_level", "freeze_reasons", "freeze_pass",
                  "incident", "checklist_override", "recorded_by", "created_at"]  # fmt: skip


class OperationsChecklistItemOutput(serializers.ModelSerializer):
    done_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ChecklistItem
        fields = ["id", "position", "text", "done_at", "done_by"]


class ChecklistOutput(serializers.ModelSerializer):
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    template = serializers.StringRelatedField()
    item_count = serializers.IntegerField(read_only=True)
    done_count = serializers.IntegerField(read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Checklist
        fields = ["id", "title", "kind", "template", "period_start", "period_end", "deployment", "assignee",
                  "completed_at", "item_count", "done_count", "overdue", "created_at"]  # fmt: skip

    def get_overdue(self, checklist: Checklist) -> bool:
        return checklist.is_overdue(timezone.now())


class ChecklistDetailOutput(ChecklistOutput):
    items = OperationsChecklistItemOutput(many=True, read_only=True)

    class Meta(ChecklistOutput.Meta):
        fields = [*ChecklistOutput.Meta.fields, "items"]


class DeploymentDetailOutput(DeploymentOutput):
    checklists = ChecklistDetailOutput(many=True, read_only=True)

    class Meta(DeploymentOutput.Meta):
        fields = [*DeploymentOutput.Meta.fields, "checklists"]


class ChecklistTemplateSerializer(CleanedModelSerializer):
    service = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True
    )
    items = serializers.ListField(child=fields.LineField(max_length=200), allow_empty=False)

    class Meta:
        model = ChecklistTemplate
        fields = ["id", "name", "kind", "items", "service", "active"]


class AlertRuleSerializer(CleanedModelSerializer):
    """An alert of the catalogue (Admins write it), with the label and runbook URL its exported rule carries."""

    severity = serializers.SlugRelatedField(slug_field="code", queryset=Severity.objects.all())
    owner_team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    runbook = serializers.SlugRelatedField(
        slug_field="slug", queryset=Runbook.objects.all(), required=False, allow_null=True
    )
    service = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True
    )
    severity_label = serializers.SerializerMethodField(help_text="The `severity` label of the exported rule.")
    condition = serializers.CharField(read_only=True, help_text="The exported PromQL.")

    class Meta:
        model = AlertRule
        fields = ["id", "name", "metric", "expr", "comparison", "threshold", "unit", "for_seconds", "trigger",
                  "severity", "severity_label", "owner_team", "runbook", "service", "is_critical_alert", "enabled",
                  "position", "condition"]  # fmt: skip

    def get_severity_label(self, rule: AlertRule) -> str:
        return severity_label(rule.severity.code)


class ProcedureStepOutput(serializers.ModelSerializer):
    class Meta:
        model = ProcedureStep
        fields = ["position", "text", "effect"]


class ProcedureOutput(serializers.ModelSerializer):
    runbook = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    objective = serializers.SlugRelatedField(slug_field="component", read_only=True, allow_null=True)
    steps = ProcedureStepOutput(many=True, read_only=True)

    class Meta:
        model = Procedure
        fields = ["id", "slug", "name", "when", "runbook", "objective", "active", "steps"]


class ProcedureRunStepOutput(serializers.ModelSerializer):
    done_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    took_seconds = serializers.SerializerMethodField(help_text="Since the step before was done (or the run began).")

    class Meta:
        model = ProcedureRunStep
        fields = ["position", "text", "effect", "done_at", "done_by", "note", "outcome", "took_seconds"]

    def get_took_seconds(self, step: ProcedureRunStep) -> float | None:
        took = self.context.get("took", {}).get(step.pk)
        return took.total_seconds() if took is not None else None


class ProcedureRunOutput(serializers.ModelSerializer):
    procedure = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    drill_plan = serializers.SlugRelatedField(slug_field="quarter", read_only=True, allow_null=True)
    started_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    steps = serializers.SerializerMethodField()
    elapsed_seconds = serializers.SerializerMethodField()
    rto_verdict = serializers.SerializerMethodField(help_text="met, acceptable, missed, or empty without a target.")

    class Meta:
        model = ProcedureRun
        fields = ["id", "procedure", "kind", "incident", "drill_plan", "maintenance", "status", "started_at",
                  "started_by", "finished_at", "target_rto_minutes", "max_rto_minutes", "elapsed_seconds",
                  "rto_verdict", "notes", "steps"]  # fmt: skip

    @extend_schema_field(ProcedureRunStepOutput(many=True))
    def get_steps(self, run: ProcedureRun) -> list[dict[str, object]]:
        timed = timed_steps(run)
        took = {item.step.pk: item.took for item in timed}
        return list(ProcedureRunStepOutput([item.step for item in timed], many=True, context={"took": took}).data)

    def get_elapsed_seconds(self, run: ProcedureRun) -> float:
        return run.elapsed(timezone.now()).total_seconds()

    def get_rto_verdict(self, run: ProcedureRun) -> str:
        return run.rto_verdict(timezone.now())
