from auditlog.models import LogEntry
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from portal.accounts.permissions import IsViewer, role_permission
from portal.accounts.roles import Role
from portal.core import health, metrics
from portal.core.api.serializers import RowOutput
from portal.core.filters import AuditLogFilter
from portal.core.selectors import audit_api_rows, audit_entries


class HealthApi(APIView):
    """Liveness: answers as long as the web process runs. Public, no database access, no writes; never throttled,
    since every replica's probes come from the same few node addresses."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []

    @extend_schema(
        auth=[],
        responses=inline_serializer("Health", {"status": serializers.CharField()}),
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class IsMonitoring(BasePermission):
    """Prometheus and the kubelet's readiness probe: METRICS_TOKEN or an address in METRICS_ALLOWED_NETWORKS."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return metrics.metrics_allowed(request._request)


class HealthDetailedApi(APIView):
    """Each component's status and latency; 503 when the database or the broker is down. Viewers read it, and so do
    monitoring clients (the readiness probe) without a user."""

    permission_classes = [IsViewer | IsMonitoring]

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        overall, components = health.detailed_health()
        body = {"status": overall, "components": {name: part.as_dict() for name, part in components.items()}}
        return Response(body, status=503 if overall == health.DOWN else 200)


class ApiRootApi(APIView):
    """What the v1 API offers."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(
            {
                "me": reverse("api:me", request=request),
                "tokens": reverse("api:token-list", request=request),
                "lockouts": reverse("api:lockout-list", request=request),
                "audit": reverse("api:audit-list", request=request),
                "deliveries": reverse("api:delivery-list", request=request),
                "channels": reverse("api:channel-list", request=request),
                "routing_rules": reverse("api:routing-rule-list", request=request),
                "subscriptions": reverse("api:subscription-list", request=request),
                "integrations": reverse("api:integration-list", request=request),
                "alerts": reverse("api:alert-list", request=request),
                "suppression_rules": reverse("api:suppression-rule-list", request=request),
                "alert_rules": reverse("api:alert-rule-list", request=request),
                "alert_rules_file": reverse("api:alert-rules-file", request=request),
                "teams": reverse("api:team-list", request=request),
                "vendors": reverse("api:vendor-list", request=request),
                "environments": reverse("api:deployment-environment-list", request=request),
                "key_links": reverse("api:key-link-list", request=request),
                "dashboards": reverse("api:dashboard-list", request=request),
                "slos": reverse("api:slo-list", request=request),
                "burn_alerts": reverse("api:burn-alert-list", request=request),
                "runbooks": reverse("api:runbook-list", request=request),
                "deployments": reverse("api:deployment-list", request=request),
                "recovery_objectives": reverse("api:recovery-objective-list", request=request),
                "backup_schedules": reverse("api:backup-schedule-list", request=request),
                "backup_verifications": reverse("api:backup-verification-list", request=request),
                "dr_drills": reverse("api:drill-record-list", request=request),
                "checklists": reverse("api:checklist-list", request=request),
                "actions": reverse("api:action-list", request=request),
                "action_targets": reverse("api:action-target-list", request=request),
                "health": reverse("health-detailed", request=request),
                "schema": reverse("schema", request=request),
                "docs": reverse("swagger-ui", request=request),
            }
        )


# Serialises the rows of `audit_api_rows` (values, not models).
class AuditEntryOutput(RowOutput):
    id = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    actor = serializers.CharField(
        source="actor_name", allow_null=True, help_text="Username of who made the change (null: the system)."
    )
    actor_email = serializers.CharField(allow_null=True)
    remote_addr = serializers.CharField(allow_null=True, help_text="The address the change came from.")
    action = serializers.CharField(source="action_label", help_text="create, update, delete or access.")
    model = serializers.CharField(help_text="The changed object's model, as `app_label.model`.")
    object_pk = serializers.CharField()
    object_repr = serializers.CharField(help_text="The changed object as it read when changed.")
    changes = serializers.JSONField(help_text="Each changed field's old and new value.")
    cid = serializers.CharField(allow_null=True, help_text="Correlation ID: the request that made the change.")


class AuditEntryListApi(generics.ListAPIView):
    """The audit log (Admin only), filterable by actor, model, object, action and time range."""

    permission_classes = [role_permission(Role.ADMIN)]
    serializer_class = AuditEntryOutput
    filterset_class = AuditLogFilter

    def get_queryset(self) -> QuerySet[LogEntry]:
        return audit_entries()

    def read_page(self, page: QuerySet[LogEntry]) -> list[dict]:
        return audit_api_rows(page)
