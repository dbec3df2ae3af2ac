import re
from datetime import datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from oncall.models import CalendarFeed, Handoff, HandoffItem, Layer, Override, Rotation, RotationVersion, Swap
from oncall.schedule import Segment
from oncall.selectors import OnCall
from portal.accounts.models import User
from portal.instants import instant_problem

# A "+01:00" offset sent unencoded in a query string arrives as " 01:00"; that is what the client meant.
_SPACED_OFFSET = re.compile(r" (\d{2}(?::?\d{2})?)$")


@extend_schema_field(OpenApiTypes.DATETIME)
class InstantField(serializers.Field):
    """An ISO 8601 date and time that names its UTC offset: a naive time is ambiguous, so it is refused."""

    default_error_messages = {
        "invalid": "Give an ISO 8601 date and time with a UTC offset, e.g. 2026-03-29T01:30:00+01:00 or ...Z.",
        "naive": "{value} has no UTC offset; add one (e.g. +00:00 or Z).",
    }

    def to_internal_value(self, data: object) -> datetime:
        text = _SPACED_OFFSET.sub(r"+\1", str(data).strip())
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            self.fail("invalid")
        if value.utcoffset() is None:
            self.fail("naive", value=text)
        if problem := instant_problem(value):
            raise serializers.ValidationError(problem, code="range")
        return value

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class PersonOutput(serializers.ModelSerializer):
    full_name = serializers.CharField(source="get_full_name")

    class Meta:
        model = User
        fields = ["username", "full_name", "email", "phone", "chat_handle"]


class SegmentOutput(serializers.Serializer):
    """Who holds a layer from `start` until `end`, and whether the plan or an override put them there."""

    layer = serializers.ChoiceField(choices=Layer.choices)
    person = PersonOutput()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    source = serializers.SerializerMethodField()
    override = serializers.IntegerField(source="cover", allow_null=True)

    def get_source(self, segment: Segment[User]) -> str:
        return "override" if segment.is_override else "schedule"


class OnCallOutput(serializers.Serializer):
    rotation = serializers.IntegerField(source="rotation.pk")
    name = serializers.CharField(source="rotation.name")
    services = serializers.SerializerMethodField(help_text="Slugs of the services the rotation covers.")
    at = serializers.DateTimeField()
    primary = SegmentOutput(allow_null=True)
    secondary = SegmentOutput(allow_null=True)

    def get_services(self, row: OnCall) -> list[str]:
        return [service.slug for service in row.rotation.services.all()]


class VersionOutput(serializers.ModelSerializer):
    participants = serializers.SerializerMethodField()
    secondary_participants = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = RotationVersion
        fields = ["id", "effective_from", "timezone", "handoff_rrule", "handoff_time", "start_date", "participants",
                  "secondary_participants", "note", "created_by", "created_at"]  # fmt: skip

    def _people(self, version: RotationVersion, layer: str) -> list[str]:
        return [p.user.username for p in version.participants.all() if p.layer == layer]

    def get_participants(self, version: RotationVersion) -> list[str]:
        return self._people(version, Layer.PRIMARY)

    def get_secondary_participants(self, version: RotationVersion) -> list[str]:
        return self._people(version, Layer.SECONDARY)


class RotationOutput(serializers.ModelSerializer):
    """A rotation and the schedule version in force at the time of the request (`current_version`)."""

    lead = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    current_version = serializers.SerializerMethodField()

    class Meta:
        model = Rotation
        fields = ["id", "name", "description", "lead", "services", "archived_at", "created_at", "current_version"]

    @extend_schema_field(VersionOutput(allow_null=True))
    def get_current_version(self, rotation: Rotation) -> dict[str, object] | None:
        now: datetime = self.context["now"]
        versions = [version for version in rotation.versions.all() if version.effective_from <= now]
        current = versions[-1] if versions else next(iter(rotation.versions.all()), None)
        return VersionOutput(current).data if current is not None else None


class OverrideOutput(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Override
        fields = ["id", "rotation", "layer", "user", "start", "end", "reason", "swap", "created_by", "created_at"]


class SwapOutput(serializers.ModelSerializer):
    requester = serializers.SlugRelatedField(slug_field="username", read_only=True)
    counterparty = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Swap
        fields = ["id", "rotation", "layer", "requester", "start", "end", "counterparty", "counterparty_start",
                  "counterparty_end", "note", "status", "decided_by", "decided_at", "created_at"]  # fmt: skip


class HandoffItemOutput(serializers.ModelSerializer):
    done_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = HandoffItem
        fields = ["id", "side", "position", "text", "incident", "done_at", "done_by", "automation", "test_page"]


class HandoffOutput(serializers.ModelSerializer):
    outgoing = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    incoming = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    items = HandoffItemOutput(many=True, read_only=True)

    class Meta:
        model = Handoff
        fields = ["id", "rotation", "at", "outgoing", "incoming", "acknowledged_at", "lead_notified_at", "items"]


class FeedOutput(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CalendarFeed
        fields = ["id", "owner", "rotation", "created_at", "regenerated_at", "last_used_at"]


class FeedIssuedOutput(FeedOutput):
    url = serializers.URLField(help_text="The secret feed URL: shown once, only its hash is stored.")

    class Meta(FeedOutput.Meta):
        fields = [*FeedOutput.Meta.fields, "url"]
