"""Contacts and links: Viewers read, Admins edit (the seeds' tables are only the starting point)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts import selectors
from contacts.api.serializers import (
    DashboardSerializer,
    DeploymentEnvironmentSerializer,
    IncidentContactsOutput,
    KeyLinkSerializer,
    TeamSerializer,
    VendorSerializer,
)
from incidents.models import Incident
from portal.accounts.permissions import writes_need
from portal.accounts.roles import Role

AdminsWrite = writes_need(Role.ADMIN)


class TeamViewSet(viewsets.ModelViewSet):
    """Teams with their Slack channel and email; alert rules name their owner team by slug."""

    queryset = selectors.team_list()
    serializer_class = TeamSerializer
    permission_classes = [AdminsWrite]
    lookup_field = "slug"


class VendorViewSet(viewsets.ModelViewSet):
    """Vendors with their support URL, SLA and priority, and the services and incident flags that call for them."""

    queryset = selectors.vendor_list()
    serializer_class = VendorSerializer
    permission_classes = [AdminsWrite]
    lookup_field = "slug"
    filterset_fields = ["priority"]


class DeploymentEnvironmentViewSet(viewsets.ModelViewSet):
    """Deployment environments: branch, auto-deploy, URL."""

    queryset = selectors.environment_list()
    serializer_class = DeploymentEnvironmentSerializer
    permission_classes = [AdminsWrite]


class KeyLinkViewSet(viewsets.ModelViewSet):
    """Key URLs: production, development and tools; `on_incidents` ones are linked from every incident."""

    queryset = selectors.key_link_list()
    serializer_class = KeyLinkSerializer
    permission_classes = [AdminsWrite]
    filterset_fields = ["category", "on_incidents"]


class DashboardViewSet(viewsets.ModelViewSet):
    """The key dashboards, and the services whose incidents link them (none: every incident)."""

    queryset = selectors.dashboard_list()
    serializer_class = DashboardSerializer
    permission_classes = [AdminsWrite]


class IncidentContactsApi(APIView):
    """What the incident page shows of the contacts: the vendors it calls for, its dashboards and key links."""

    @extend_schema(responses=IncidentContactsOutput)
    def get(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(Incident.objects.prefetch_related("services"), pk=pk)
        return Response(IncidentContactsOutput(selectors.incident_contacts(incident)).data)
