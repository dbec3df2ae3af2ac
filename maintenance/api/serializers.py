from datetime import datetime

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from maintenance import policy
from maintenance.ical import occurrence_uid
from maintenance.models import (
    ChecklistItem,
    FreezeException,
    FreezeLevel,
    FreezePass,
    FreezeRule,
    MaintenanceOccurrence,
    MaintenanceWindow,
    OccurrenceEvent,
)
from maintenance.policy import Pass
from portal.core.api import fields
from portal.core.api.serializers import ModelSerializer, RowOutput
from portal.core.models import Environment


class AwareDateTimeField(fields.DateTimeField):
    """An ISO 8601 instant with its offset: a naive time would silently mean UTC to some callers and not others."""

    def to_internal_value(self, value: object) -> datetime:
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:  # well-formed but impossible, e.g. a 13th month
            parsed = None
        if parsed is None:
            self.fail("invalid", format="ISO 8601, e.g. 2026-11-27T10:00:00Z")
        if parsed.utcoffset() is None:
            raise serializers.ValidationError("Give the time with its UTC offset, e.g. 2026-11-27T10:00:00Z.")
        return super().to_internal_value(value)


class WindowOutput(serializers.ModelSerializer):
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "name",
            "kind",
            "description",
            "expected_impact",
            "environment",
            "services",
            "owner",
            "rrule",
            "dtstart",
            "start_time",
            "zone",
            "starts_at",
            "duration",
            "notice_lead",
            "active",
        ]


class OccurrenceOutput(serializers.ModelSerializer):
    window_name = serializers.CharField(source="window.name", read_only=True)
    services = serializers.SerializerMethodField()
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    allowed_transitions = serializers.SerializerMethodField()
    uid = serializers.SerializerMethodField(help_text="The iCalendar UID: stable across reschedules.")

    class Meta:
        model = MaintenanceOccurrence
        fields = [
            "id",
            "window",
            "window_name",
            "uid",
            "original_start",
            "starts_at",
            "ends_at",
            "status",
            "owner",
            "expected_impact",
            "services",
            "notice_due_at",
            "notified_at",
            "started_at",
            "completed_at",
            "sequence",
            "allowed_transitions",
        ]

    def get_services(self, occurrence: MaintenanceOccurrence) -> list[str]:
        return [service.slug for service in occurrence.window.services.all()]

    def get_allowed_transitions(self, occurrence: MaintenanceOccurrence) -> list[str]:
        return list(policy.allowed_transitions(occurrence))

    def get_uid(self, occurrence: MaintenanceOccurrence) -> str:
        return occurrence_uid(occurrence)


class ChecklistItemOutput(serializers.ModelSerializer):
    done_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    done = serializers.SerializerMethodField()

    class Meta:
        model = ChecklistItem
        fields = ["id", "phase", "position", "text", "done", "done_at", "done_by"]

    def get_done(self, item: ChecklistItem) -> bool:
        return item.done_at is not None


class OccurrenceEventOutput(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = OccurrenceEvent
        fields = ["at", "kind", "actor", "message", "data"]


class OccurrenceDetailOutput(OccurrenceOutput):
    checklist = ChecklistItemOutput(many=True, read_only=True)
    history = OccurrenceEventOutput(many=True, read_only=True)
    warnings = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        default=list,
        help_text="Overlaps with freezes or other windows on a shared service.",
    )

    class Meta(OccurrenceOutput.Meta):
        fields = [*OccurrenceOutput.Meta.fields, "checklist", "history", "warnings"]


class WindowDetailOutput(WindowOutput):
    warnings = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        default=list,
        help_text="Overlaps with freezes or other windows on a shared service.",
    )

    class Meta(WindowOutput.Meta):
        fields = [*WindowOutput.Meta.fields, "warnings"]


class CalendarEntryOutput(serializers.Serializer):
    window = serializers.IntegerField(source="window.pk")
    window_name = serializers.CharField(source="window.name")
    occurrence = serializers.IntegerField(source="occurrence.pk", allow_null=True, default=None)
    original_start = serializers.DateTimeField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=MaintenanceOccurrence.Status.choices)
    uid = serializers.CharField()


class FreezePeriodOutput(serializers.Serializer):
    rule = serializers.IntegerField(source="rule_id")
    name = serializers.CharField()
    level = serializers.ChoiceField(choices=FreezeLevel.choices)
    environments = serializers.ListField(child=serializers.ChoiceField(choices=Environment.choices))
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    zone = serializers.CharField()
    starts_at = serializers.DateTimeField(source="span.start")
    ends_at = serializers.DateTimeField(source="span.end")


class CalendarOutput(serializers.Serializer):
    maintenance = CalendarEntryOutput(many=True)
    freezes = FreezePeriodOutput(many=True)


class FreezeRuleSerializer(ModelSerializer):
    environments = serializers.ListField(child=serializers.ChoiceField(choices=Environment.choices), allow_empty=False)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = FreezeRule
        fields = [
            "id",
            "name",
            "kind",
            "level",
            "environments",
            "zone",
            "days_before",
            "days_after",
            "holiday_country",
            "first_day",
            "last_day",
            "reason",
            "active",
            "created_by",
        ]


class FreezeStatusOutput(RowOutput):
    """The deploy gate's answer: a `policy.FreezeStatus` as a row (`vars(status)`), its fields built once."""

    allowed = serializers.BooleanField()
    level = serializers.ChoiceField(choices=FreezeLevel.choices, allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField())
    until = serializers.DateTimeField(allow_null=True, help_text="When the freezes in force end.")
    exception = serializers.IntegerField(
        source="exception_id", allow_null=True, help_text="The approved exception that allows this change."
    )
    rule = serializers.CharField(help_text="What gets a change through the level in force (empty: nothing frozen).")
    passed_by = serializers.ChoiceField(
        choices=[(each.value, each.value) for each in Pass], allow_null=True,
        help_text="Which pass let the change through the freeze.",
    )  # fmt: skip
    incident = serializers.IntegerField(source="incident_id", allow_null=True)
    approved_by = serializers.IntegerField(source="approved_by_id", allow_null=True, help_text="The second person.")


class FreezePassOutput(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident_id", allow_null=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = FreezePass
        fields = ["id", "at", "environment", "level", "passed_by", "subject", "description", "link", "reasons",
                  "incident", "approved_by", "actor"]  # fmt: skip


class ExceptionOutput(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = FreezeException
        fields = [
            "id",
            "change",
            "reason",
            "environment",
            "starts_at",
            "ends_at",
            "status",
            "requested_by",
            "decided_by",
            "decided_at",
            "decision_note",
            "incident",
            "created_at",
        ]
