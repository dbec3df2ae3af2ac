from django.contrib.auth.models import Group
from rest_framework import serializers

from incidents import policy
from incidents.models import (
    ActionItem,
    EscalationLevel,
    EscalationPolicy,
    Incident,
    PostIncidentReview,
    Service,
    Severity,
    StatusUpdate,
    TimelineEvent,
)
from incidents.services import status_update_text
from portal.accounts.models import User
from portal.core.api.serializers import CleanedModelSerializer, ModelSerializer


class SeveritySerializer(CleanedModelSerializer):
    class Meta:
        model = Severity
        fields = [
            "id", "code", "name", "rank", "description", "examples", "response_minutes", "response_business_days",
            "resolution_minutes", "update_minutes", "notification_severity", "review_required", "escalation_factor",
        ]  # fmt: skip
        read_only_fields = ["code", "rank"]


class ServiceSerializer(ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "slug", "owner_team", "tier", "description"]


class IncidentOutput(serializers.ModelSerializer):
    severity = serializers.SlugRelatedField(slug_field="code", read_only=True)
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    commander = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    communications_lead = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    operations_lead = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    scribe = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    reference = serializers.CharField(read_only=True)
    allowed_transitions = serializers.SerializerMethodField()
    alert_count = serializers.SerializerMethodField(
        help_text="Alerts its alert group holds (`/api/v1/alerts/?incident=<id>` lists them); null: not opened by "
        "alerts."
    )
    owner_team = serializers.CharField(
        source="owner_team_slug", read_only=True, allow_null=True,
        help_text="Slug of the team owning its alerts in the alert catalogue (its Slack channel and PagerDuty service "
        "hear of it); null: no catalogued alert.",
    )  # fmt: skip

    class Meta:
        model = Incident
        fields = [
            "id", "reference", "title", "severity", "status", "services", "impact_summary", "commander",
            "communications_lead", "operations_lead", "scribe", "reporter",
            "is_public", "flags", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at", "closed_at",
            "ack_due_at", "update_due_at", "resolution_due_at", "last_update_at", "version", "allowed_transitions",
            "escalation_snapshot", "alert_count", "owner_team",
        ]  # fmt: skip

    def get_allowed_transitions(self, incident: Incident) -> list[str]:
        return list(policy.allowed_transitions(incident))

    def get_alert_count(self, incident: Incident) -> int | None:
        group = getattr(incident, "alert_group", None)  # selected with the incident; absent when people declared it
        return None if group is None else group.alert_count


class TimelineEventOutput(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = TimelineEvent
        fields = ["id", "at", "kind", "actor", "message", "data"]


class StatusUpdateOutput(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    text = serializers.SerializerMethodField(help_text="The update in the seeds' status-page template.")

    class Meta:
        model = StatusUpdate
        fields = ["id", "label", "description", "affected_services", "impact", "next_update_minutes", "is_public",
                  "author", "posted_at", "text"]  # fmt: skip

    def get_text(self, update: StatusUpdate) -> str:
        return status_update_text(update)


class ActionItemOutput(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ActionItem
        fields = ["id", "title", "owner", "due_date", "status", "ticket_url", "created_at"]


class ReviewOutput(serializers.ModelSerializer):
    action_items = ActionItemOutput(many=True, read_only=True)
    published_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = PostIncidentReview
        fields = ["id", "incident", "status", "scheduled_for", "due_at", "facts", "summary", "root_cause",
                  "contributing_factors", "timeline_snapshot", "published_at", "published_by", "version",
                  "action_items"]  # fmt: skip


class EscalationLevelSerializer(CleanedModelSerializer):
    group = serializers.SlugRelatedField(
        slug_field="name", queryset=Group.objects.all(), required=False, allow_null=True
    )
    users = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), many=True, required=False)

    class Meta:
        model = EscalationLevel
        fields = ["id", "policy", "level", "name", "target", "users", "group", "immediate_max_rank", "after_minutes",
                  "manual_only", "contact_methods", "chat_handle"]  # fmt: skip


class EscalationPolicySerializer(ModelSerializer):
    levels = EscalationLevelSerializer(many=True, read_only=True)
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = EscalationPolicy
        fields = ["id", "name", "description", "is_default", "services", "levels"]
