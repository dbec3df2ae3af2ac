from rest_framework import serializers

from contacts.models import Dashboard, DeploymentEnvironment, KeyLink, Team, Vendor
from incidents.models import Service
from portal.core.api.serializers import CleanedModelSerializer


class TeamSerializer(CleanedModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug", "slack_channel", "email", "description", "position"]


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
