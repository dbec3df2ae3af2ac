from rest_framework import serializers

from contacts.models import Dashboard, DeploymentEnvironment, KeyLink, Team, Vendor
from incidents.models import Service
from portal.core.api import fields
from portal.core.api.serializers import CleanedModelSerializer
from portal.notifications.secrets import mask_secret


class TeamSerializer(CleanedModelSerializer):
    pagerduty_routing_key = fields.LineField(write_only=True, required=False, allow_blank=True, max_length=64)
    pagerduty = serializers.SerializerMethodField(help_text="The PagerDuty routing key, masked; empty: none set.")

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "slack_channel", "email", "pagerduty_routing_key", "pagerduty", "description",
                  "position"]  # fmt: skip

    def get_pagerduty(self, team: Team) -> str:
        return mask_secret(team.pagerduty_routing_key)


class VendorSerializer(CleanedModelSerializer):
    services = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all(), many=True,
                                            required=False)  # fmt: skip
    incident_flags = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        model = Vendor
        fields = ["id", "name", "slug", "support_url", "console_url", "sla", "priority", "services", "incident_flags",
                  "notes", "position"]  # fmt: skip


class DeploymentEnvironmentSerializer(CleanedModelSerializer):
    class Meta:
        model = DeploymentEnvironment
        fields = ["id", "environment", "branch", "auto_deploy", "url", "position"]


class KeyLinkSerializer(CleanedModelSerializer):
    class Meta:
        model = KeyLink
        fields = ["id", "name", "url", "category", "on_incidents", "position"]


class DashboardSerializer(CleanedModelSerializer):
    services = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all(), many=True,
                                            required=False)  # fmt: skip

    class Meta:
        model = Dashboard
        fields = ["id", "name", "description", "url", "services", "position"]


class IncidentContactsOutput(serializers.Serializer):
    vendors = VendorSerializer(many=True)
    dashboards = DashboardSerializer(many=True)
    links = KeyLinkSerializer(many=True)
