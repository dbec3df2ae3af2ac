"""Alert intake over HTTP: Alertmanager's webhook, integrations and their tokens, alerts, suppression rules."""

from datetime import UTC, datetime

import django_filters
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import authentication, exceptions, generics, serializers, status, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import alerts as rules
from incidents.alert_selectors import alert_groups, alerts, integrations, suppression_rules
from incidents.alert_services import (
    IntakeSummary,
    IssuedIntegration,
    alert_ingest,
    integration_authenticate,
    integration_create,
    integration_rotate_token,
    integration_set_enabled,
    integration_set_grouping,
)
from incidents.alerts import RESOLVED, IncomingAlert
from incidents.models import Alert, AlertGroup, Integration, SuppressionRule
from portal.accounts.permissions import role_permission, writes_need
from portal.accounts.roles import Role
from portal.core.api import fields, parsers
from portal.core.api.schema import error_response
from portal.core.api.serializers import ModelSerializer
from portal.core.api.throttling import IntegrationRateThrottle
from portal.errors import ApplicationError, TooLargeError

# Webhook


class IntegrationTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>` (Alertmanager's `http_config.authorization`) against hashed integration
    tokens. The request acts for no user: `request.auth` is the integration."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, Integration] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid authorization header: expected 'Bearer <token>'.")
        try:
            token = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid authorization header: the token must be ASCII.") from exc
        integration = integration_authenticate(token=token)
        if integration is None:
            raise exceptions.AuthenticationFailed("Invalid token, or its integration is disabled.")
        return AnonymousUser(), integration

    def authenticate_header(self, request: Request) -> str:
        return self.keyword  # makes DRF answer 401, not 403, to a request without a token


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = IntegrationTokenAuthentication
    name = "integrationToken"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=IntegrationTokenAuthentication.keyword
        )


class IsIntegration(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, Integration)


@extend_schema_field(OpenApiTypes.STR)
class LabelValue(serializers.Field):
    """A label or annotation value, any string. Lighter than CharField, whose validators on every value were a third
    of the time to validate a storm's payload; the API's parser has refused NUL characters already."""

    default_error_messages = {"invalid": "Not a valid string.", "surrogate": "Surrogate characters are not allowed."}

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            data.encode()
        except UnicodeEncodeError:
            self.fail("surrogate")
        return data

    def to_representation(self, value: str) -> str:
        return value


class Labels(serializers.DictField):
    child = LabelValue()


class AlertTime(serializers.DateTimeField):
    """An instant as Alertmanager writes it (RFC 3339: an offset, up to nanoseconds), in UTC. Read with
    `datetime.fromisoformat` directly: DRF's parsing and time-zone handling of a storm's two instants per alert was
    a third of the time to validate its payload. Anything else takes DRF's way, and its messages."""

    def to_internal_value(self, value: object) -> datetime:
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                try:
                    return parsed.astimezone(UTC)
                except OverflowError:
                    self.fail("overflow")
        return super().to_internal_value(value)


class AlertInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=Alert.Status.choices)
    labels = Labels()
    annotations = Labels(required=False, default=dict)
    startsAt = AlertTime()  # camelCase: Alertmanager's field names
    endsAt = AlertTime(required=False, allow_null=True)
    generatorURL = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    fingerprint = serializers.CharField(max_length=64)

    def validate_labels(self, labels: dict[str, str]) -> dict[str, str]:
        if not labels.get("alertname", "").strip():
            raise serializers.ValidationError({"alertname": ["Every alert needs an alertname label."]})
        return labels

    def validate(self, attrs: dict) -> dict:
        ends_at = attrs.get("endsAt")
        if ends_at is not None and ends_at.year == 1:
            ends_at = None  # Go's zero time: Alertmanager's "not ended"
        if attrs["status"] == RESOLVED:
            if ends_at is None:
                raise serializers.ValidationError({"endsAt": ["A resolved alert needs the time it ended."]})
            if ends_at < attrs["startsAt"]:
                raise serializers.ValidationError({"endsAt": ["The alert cannot end before it starts (startsAt)."]})
        # A firing alert's endsAt is only Alertmanager's guess at when it would time out: not worth keeping.
        attrs["endsAt"] = ends_at if attrs["status"] == RESOLVED else None
        return attrs


class AlertmanagerPayload(serializers.Serializer):
    """Alertmanager's webhook payload, version 4. `alerts`, and `groupKey` and `groupLabels` for grouping, are used;
    the rest is accepted."""

    version = serializers.ChoiceField(choices=["4"])
    groupKey = serializers.CharField(required=False, allow_blank=True)
    truncatedAlerts = serializers.IntegerField(required=False, min_value=0)
    status = serializers.ChoiceField(choices=Alert.Status.choices, required=False)
    receiver = serializers.CharField(required=False, allow_blank=True)
    groupLabels = Labels(required=False)
    commonLabels = Labels(required=False)
    commonAnnotations = Labels(required=False)
    externalURL = serializers.CharField(required=False, allow_blank=True)
    alerts = AlertInput(many=True, allow_empty=False)


def first_error(errors: object, path: str = "") -> tuple[str, str]:
    """The first of DRF's nested errors as ("alerts[3].labels.alertname", message)."""
    if isinstance(errors, list):  # the messages about one field
        return path, str(errors[0])
    if not isinstance(errors, dict):
        return path, str(errors)
    key, value = next((key, value) for key, value in errors.items() if value)
    if isinstance(key, int):  # DRF keys a list's errors by item: alerts[3]
        return first_error(value, f"{path}[{key}]")
    if key == "non_field_errors":
        return first_error(value, path)
    return first_error(value, f"{path}.{key}" if path else key)


class AlertResultOutput(serializers.Serializer):
    fingerprint = serializers.CharField()
    alert = serializers.IntegerField()
    outcome = serializers.CharField()
    incident = serializers.IntegerField(allow_null=True)
    suppressed_by = serializers.IntegerField(allow_null=True)


class IntakeOutput(serializers.Serializer):
    opened = serializers.IntegerField()
    attached = serializers.IntegerField(help_text="Alerts added to their group's open incident (no new page).")
    updated = serializers.IntegerField()
    resolved = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    incidents = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()), help_text="Incident ids by outcome."
    )
    alerts = AlertResultOutput(many=True)

    @staticmethod
    def of(summary: IntakeSummary) -> dict[str, object]:
        return {**summary.counts, "incidents": summary.incidents, "alerts": summary.results}


class WebhookJSONParser(parsers.JSONParser):
    """A storm's payload is larger than any other request: its own limit, and over it a 413 naming the limit."""

    limit_setting = "ALERT_WEBHOOK_MAX_BYTES"

    def too_large(self, limit: int) -> Exception:
        return TooLargeError(
            f"The payload is larger than {limit} bytes (ALERT_WEBHOOK_MAX_BYTES): set max_alerts on Alertmanager's "
            "webhook receiver to send fewer alerts per notification."
        )


def _check_alert_count(data: object) -> None:
    """Before validating: refusing a payload with too many alerts must not take as long as processing it."""
    alerts = data.get("alerts") if isinstance(data, dict) else None
    limit = settings.ALERT_WEBHOOK_MAX_ALERTS
    if isinstance(alerts, list) and len(alerts) > limit:
        raise TooLargeError(
            f"The payload has {len(alerts)} alerts, more than {limit} (ALERT_WEBHOOK_MAX_ALERTS): set max_alerts on "
            "Alertmanager's webhook receiver to send fewer alerts per notification.",
            field="alerts",
        )


class AlertmanagerWebhookApi(APIView):
    """Alertmanager's webhook: opens incidents by alert group (Alertmanager's groupKey, or the integration's
    grouping labels), attaches alerts to their group's open incident, records updates and recoveries by
    fingerprint, and applies the suppression rules. Authenticated by an integration's token (`Authorization: Bearer
    <token>`), not by a user. The payload is applied whole or not at all; over the payload limits (bytes, alerts,
    new groups) it is a 413 naming the limit."""

    authentication_classes = [IntegrationTokenAuthentication]
    permission_classes = [IsIntegration]
    throttle_classes = [IntegrationRateThrottle]  # a storm's notifications must all get in
    parser_classes = [WebhookJSONParser]

    @extend_schema(
        request=AlertmanagerPayload,
        responses={
            200: IntakeOutput,
            413: error_response(
                "Over a payload limit, which the message names: ALERT_WEBHOOK_MAX_BYTES, ALERT_WEBHOOK_MAX_ALERTS, or "
                "ALERT_WEBHOOK_MAX_NEW_GROUPS (alert groups that would open an incident)."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        _check_alert_count(request.data)
        payload = AlertmanagerPayload(data=request.data)
        if not payload.is_valid():
            field, message = first_error(payload.errors)
            raise ApplicationError(f"{field}: {message}" if field else message, field=field or None)
        summary = alert_ingest(
            integration=request.auth,
            group_key=payload.validated_data.get("groupKey", ""),
            group_labels=payload.validated_data.get("groupLabels", {}),
            alerts=[
                IncomingAlert(
                    fingerprint=alert["fingerprint"],
                    status=alert["status"],
                    labels=alert["labels"],
                    annotations=alert["annotations"],
                    starts_at=alert["startsAt"],
                    ends_at=alert["endsAt"],
                    generator_url=alert["generatorURL"],
                )
                for alert in payload.validated_data["alerts"]
            ],
        )
        return Response(IntakeOutput(IntakeOutput.of(summary)).data)


# Integrations (Admin)


class IntegrationOutput(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Integration
        fields = [
            "id", "name", "kind", "grouping_labels", "enabled", "token_prefix", "token_issued_at", "created_by",
            "created_at", "last_used_at",
        ]  # fmt: skip


class IssuedIntegrationOutput(serializers.Serializer):
    integration = IntegrationOutput()
    token = serializers.CharField(help_text="Shown this once: only its hash is stored.")


class IntegrationListCreateApi(generics.ListAPIView):
    """Integrations that send alerts (Admin only). POST creates one; its token is in the response once."""

    permission_classes = [role_permission(Role.ADMIN)]
    serializer_class = IntegrationOutput
    filterset_fields = ["kind", "enabled"]

    class IntegrationInput(serializers.Serializer):
        name = fields.LineField(max_length=100)
        kind = serializers.ChoiceField(choices=Integration.Kind.choices, default=Integration.Kind.ALERTMANAGER)
        grouping_labels = serializers.ListField(
            child=fields.LineField(max_length=100), required=False, default=list, max_length=20,
            help_text="Labels whose values group alerts into one incident; empty: Alertmanager's groupKey.",
        )  # fmt: skip

    def get_queryset(self) -> QuerySet[Integration]:
        return integrations()

    @extend_schema(request=IntegrationInput, responses={201: IssuedIntegrationOutput})
    def post(self, request: Request) -> Response:
        payload = self.IntegrationInput(data=request.data)
        payload.is_valid(raise_exception=True)
        issued = integration_create(**payload.validated_data, created_by=request.user)
        return Response(IssuedIntegrationOutput(issued).data, status=status.HTTP_201_CREATED)


class IntegrationDetailApi(generics.RetrieveAPIView):
    permission_classes = [role_permission(Role.ADMIN)]
    serializer_class = IntegrationOutput

    def get_queryset(self) -> QuerySet[Integration]:
        return integrations()


class IntegrationRotateTokenApi(APIView):
    """A new token, shown once; the old one stops working at once."""

    permission_classes = [role_permission(Role.ADMIN)]

    @extend_schema(request=None, responses=IssuedIntegrationOutput)
    def post(self, request: Request, pk: int) -> Response:
        issued: IssuedIntegration = integration_rotate_token(integration=get_object_or_404(Integration, pk=pk))
        return Response(IssuedIntegrationOutput(issued).data)


class IntegrationGroupingApi(APIView):
    """How the integration's alerts are grouped into incidents from now on: by the values of `grouping_labels`, or,
    when empty, by Alertmanager's groupKey (the route's group_by)."""

    permission_classes = [role_permission(Role.ADMIN)]

    class GroupingInput(serializers.Serializer):
        grouping_labels = serializers.ListField(child=fields.LineField(max_length=100), max_length=20)

    @extend_schema(
        request=GroupingInput,
        responses={200: IntegrationOutput, 409: error_response("The integration groups by these labels already.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = self.GroupingInput(data=request.data)
        payload.is_valid(raise_exception=True)
        integration = integration_set_grouping(
            integration=get_object_or_404(Integration, pk=pk), grouping_labels=payload.validated_data["grouping_labels"]
        )
        return Response(IntegrationOutput(integration).data)


class IntegrationDisableApi(APIView):
    """Refuse the integration's token from now on (its alerts stay)."""

    permission_classes = [role_permission(Role.ADMIN)]
    enabled = False

    @extend_schema(
        request=None,
        responses={200: IntegrationOutput, 409: error_response("The integration is in that state already.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        integration = get_object_or_404(Integration, pk=pk)
        return Response(IntegrationOutput(integration_set_enabled(integration=integration, enabled=self.enabled)).data)


class IntegrationEnableApi(IntegrationDisableApi):
    """Accept the integration's token again."""

    enabled = True


# Alerts and suppression rules


class AlertFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Alert.Status.choices)
    suppressed = django_filters.BooleanFilter(method="filter_suppressed", label="Suppressed by another alert")
    fingerprint = django_filters.CharFilter()
    alertname = django_filters.CharFilter(lookup_expr="iexact")
    service = django_filters.CharFilter(field_name="service__slug", label="Service (slug)")
    incident = django_filters.NumberFilter(field_name="incident")
    integration = django_filters.ModelChoiceFilter(queryset=Integration.objects.all())

    class Meta:
        model = Alert
        fields = ["status", "suppressed", "fingerprint", "alertname", "service", "incident", "integration"]

    def filter_suppressed(self, queryset: QuerySet[Alert], name: str, value: bool) -> QuerySet[Alert]:
        return queryset.filter(suppressed_by__isnull=not value)


class AlertOutput(serializers.ModelSerializer):
    integration = serializers.SlugRelatedField(slug_field="name", read_only=True)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    suppression_rule = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)

    class Meta:
        model = Alert
        fields = [
            "id", "integration", "fingerprint", "is_open", "status", "alertname", "labels", "annotations",
            "starts_at", "ends_at", "generator_url", "service", "service_label", "incident", "suppressed_by",
            "suppression_rule", "first_received_at", "last_received_at",
        ]  # fmt: skip


class AlertListApi(generics.ListAPIView):
    """Alerts as Alertmanager last sent them; `?suppressed=true` lists those a rule kept from opening incidents."""

    serializer_class = AlertOutput
    filterset_class = AlertFilter

    def get_queryset(self) -> QuerySet[Alert]:
        return alerts()


class AlertDetailApi(generics.RetrieveAPIView):
    serializer_class = AlertOutput

    def get_queryset(self) -> QuerySet[Alert]:
        return alerts()


class AlertGroupFilter(django_filters.FilterSet):
    integration = django_filters.ModelChoiceFilter(queryset=Integration.objects.all())
    incident = django_filters.NumberFilter(field_name="incident")
    open = django_filters.BooleanFilter(method="filter_open", label="Still collecting alerts for its key")

    class Meta:
        model = AlertGroup
        fields = ["integration", "incident", "open"]

    def filter_open(self, queryset: QuerySet[AlertGroup], name: str, value: bool) -> QuerySet[AlertGroup]:
        return queryset.filter(is_open=True) if value else queryset.filter(is_open__isnull=True)


class AlertGroupOutput(serializers.ModelSerializer):
    integration = serializers.SlugRelatedField(slug_field="name", read_only=True)
    is_open = serializers.SerializerMethodField(help_text="Still the group new alerts of its key attach to.")

    class Meta:
        model = AlertGroup
        fields = ["id", "integration", "key", "labels", "is_open", "incident", "alert_count", "created_at",
                  "last_alert_at"]  # fmt: skip

    def get_is_open(self, group: AlertGroup) -> bool:
        return bool(group.is_open)


class AlertGroupListApi(generics.ListAPIView):
    """Alert groups: the incident each group's alerts share, and how many it holds (its alerts:
    `/api/v1/alerts/?incident=<incident>`)."""

    serializer_class = AlertGroupOutput
    filterset_class = AlertGroupFilter

    def get_queryset(self) -> QuerySet[AlertGroup]:
        return alert_groups()


class AlertGroupDetailApi(generics.RetrieveAPIView):
    serializer_class = AlertGroupOutput

    def get_queryset(self) -> QuerySet[AlertGroup]:
        return alert_groups()


class Matchers(serializers.ListField):
    child = fields.LineField()

    def to_internal_value(self, data: object) -> list[str]:
        texts = super().to_internal_value(data)
        try:
            rules.parse_matchers(texts)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return texts


class SuppressionRuleSerializer(ModelSerializer):
    source_matchers = Matchers(help_text='Alertmanager matchers the suppressing alert meets, e.g. alertname="X".')
    target_matchers = Matchers(help_text="Matchers the suppressed alert meets.")
    equal = serializers.ListField(child=fields.LineField(), required=False, help_text="Labels equal on both.")

    class Meta:
        model = SuppressionRule
        fields = [
            "id", "name", "description", "source_matchers", "target_matchers", "equal", "enabled", "created_at",
            "updated_at",
        ]  # fmt: skip

    def validate_equal(self, names: list[str]) -> list[str]:
        try:
            rules.parse_label_names(names)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return names


class SuppressionRuleViewSet(viewsets.ModelViewSet):
    """Suppression rules, like Alertmanager's inhibit_rules: everyone reads them, Admins change them (audited)."""

    serializer_class = SuppressionRuleSerializer
    permission_classes = [writes_need(Role.ADMIN)]
    filterset_fields = ["enabled"]

    def get_queryset(self) -> QuerySet[SuppressionRule]:
        return suppression_rules()

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()
