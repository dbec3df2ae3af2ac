from django.utils import timezone
from rest_framework import serializers

from incidents.models import Service
from portal.cluster import policy
from portal.cluster.models import ActionApproval, ActionRun, Look, Namespace, ProgressLine, Target, Workload
from portal.core.api import fields
from portal.core.api.serializers import CleanedModelSerializer, ModelSerializer


class NamespaceSerializer(CleanedModelSerializer):
    target = serializers.SlugRelatedField(slug_field="slug", queryset=Target.objects.all())

    class Meta:
        model = Namespace
        fields = ["id", "target", "name", "environment"]


class NamespaceOfTarget(ModelSerializer):
    class Meta:
        model = Namespace
        fields = ["id", "name", "environment"]


class TargetSerializer(CleanedModelSerializer):
    """The URL is a secret: written, never read back; `url_masked` shows it without its password."""

    url = fields.LineField(write_only=True, required=False, allow_blank=True, max_length=500)
    url_masked = serializers.CharField(read_only=True, help_text="The URL with its password hidden.")
    namespaces = NamespaceOfTarget(many=True, read_only=True)

    class Meta:
        model = Target
        fields = [
            "id", "name", "slug", "kind", "environment", "description", "enabled", "context", "min_replicas",
            "max_replicas", "url", "url_masked", "namespaces", "created_at", "updated_at",
        ]  # fmt: skip


class WorkloadSerializer(CleanedModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all())
    target = serializers.SlugRelatedField(slug_field="slug", queryset=Target.objects.all())
    namespace = serializers.PrimaryKeyRelatedField(queryset=Namespace.objects.all(), required=False, allow_null=True)

    class Meta:
        model = Workload
        fields = ["id", "service", "target", "namespace", "deployment"]


class ApprovalOutput(serializers.ModelSerializer):
    approver = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ActionApproval
        fields = ["approver", "decision", "comment", "decided_at"]


class ProgressLineOutput(serializers.ModelSerializer):
    class Meta:
        model = ProgressLine
        fields = ["at", "message"]


class ActionRunOutput(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    target = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ActionRun
        fields = [
            "id", "reference", "kind", "target", "environment", "parameters", "reason", "incident", "emergency",
            "requested_by", "status", "command", "expectation", "before", "after", "result", "error",
            "approval_expires_at", "worker", "created_at", "submitted_at", "queued_at", "started_at", "heartbeat_at",
            "finished_at", "resolved_by", "resolved_at", "resolution_note",
        ]  # fmt: skip


class ActionRunDetailOutput(ActionRunOutput):
    approvals = ApprovalOutput(many=True, read_only=True)
    lines = ProgressLineOutput(many=True, read_only=True, help_text="Progress, oldest first.")
    approval_from = serializers.SerializerMethodField(
        help_text="Who must approve it before it runs (a requested or waiting run), as the confirmation page says: "
        "'an Incident Commander' for a Responder's production change, 'another Incident Commander' for a second "
        "person; empty when nobody."
    )

    class Meta(ActionRunOutput.Meta):
        fields = [*ActionRunOutput.Meta.fields, "approvals", "approval_from", "lines"]

    def get_approval_from(self, run: ActionRun) -> str:
        if run.status not in (ActionRun.Status.REQUESTED, ActionRun.Status.AWAITING_APPROVAL):
            return ""
        return policy.approver_wanted(run, at=timezone.now())


class LookOutput(serializers.ModelSerializer):
    target = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    columns = serializers.ListField(child=serializers.CharField(), read_only=True)
    rows = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField()), read_only=True, help_text="One list per row."
    )

    class Meta:
        model = Look
        fields = [
            "id", "kind", "target", "parameters", "incident", "requested_by", "status", "command", "progress",
            "summary", "columns", "rows", "text", "truncated", "error", "created_at", "started_at", "finished_at",
        ]  # fmt: skip
