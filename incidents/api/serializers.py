from django.contrib.auth.models import Group
from rest_framework import serializers

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
from portal.core.api.fields import DateTimeField
from portal.core.api.serializers import CleanedModelSerializer, ModelSerializer, RowOutput


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


def _username(help_text: str) -> serializers.CharField:
    return serializers.CharField(allow_null=True, help_text=f"Username of the {help_text.lower()}; null: none.")


# Serialises the rows of `incidents.selectors.incident_rows` and `fill_incident_rows` (values, not models).
class IncidentOutput(RowOutput):
    id = serializers.IntegerField()
    reference = serializers.SerializerMethodField()
    title = serializers.CharField()
    severity = serializers.CharField(source="severity_code", help_text="Its severity's code (P1-P4).")
    status = serializers.ChoiceField(choices=Incident.Status.choices)
    services = serializers.ListField(child=serializers.SlugField(), help_text="Slugs of the services it affects.")
    impact_summary = serializers.CharField()
    commander = _username(Incident.Role.COMMANDER.label)
    communications_lead = _username(Incident.Role.COMMUNICATIONS_LEAD.label)
    operations_lead = _username(Incident.Role.OPERATIONS_LEAD.label)
    scribe = _username(Incident.Role.SCRIBE.label)
    reporter = _username("person who declared it")
    is_public = serializers.BooleanField(help_text=Incident._meta.get_field("is_public").help_text)
    flags = serializers.ListField(child=serializers.ChoiceField(choices=Incident.Flag.choices))
    detected_at = DateTimeField()
    acknowledged_at = DateTimeField(allow_null=True)
    mitigated_at = DateTimeField(allow_null=True)
    resolved_at = DateTimeField(allow_null=True)
    closed_at = DateTimeField(allow_null=True)
    ack_due_at = DateTimeField(allow_null=True)
    update_due_at = DateTimeField(allow_null=True)
    resolution_due_at = DateTimeField(allow_null=True)
    last_update_at = DateTimeField(allow_null=True)
    version = serializers.IntegerField()
    allowed_transitions = serializers.ListField(child=serializers.ChoiceField(choices=Incident.Status.choices))
    escalation_snapshot = serializers.JSONField(help_text=Incident._meta.get_field("escalation_snapshot").help_text)
    alert_count = serializers.IntegerField(
        allow_null=True,
        help_text="Alerts its alert group holds (`/api/v1/alerts/?incident=<id>` lists them); null: not opened by "
        "alerts.",
    )
    owner_team = serializers.CharField(
        allow_null=True,
        help_text="Slug of the team owning its alerts in the alert catalogue (its Slack channel and PagerDuty service "
        "hear of it); null: no catalogued alert.",
    )

    def get_reference(self, row: dict) -> str:
        return Incident.reference_of(row["id"])


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
