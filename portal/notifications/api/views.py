from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Service
from portal.accounts.models import User
from portal.accounts.permissions import role_permission, writes_need
from portal.accounts.roles import Role
from portal.core.api import fields
from portal.core.api.schema import error_response
from portal.core.api.serializers import CleanedModelSerializer, ModelSerializer
from portal.notifications.filters import DeliveryFilter
from portal.notifications.models import (
    Channel,
    Delivery,
    EventKind,
    InboundEvent,
    PagerDutyWebhook,
    RoutingRule,
    Severity,
    SlackApp,
    Subscription,
)
from portal.notifications.secrets import mask_secret
from portal.notifications.selectors import deliveries
from portal.notifications.services import delivery_retry, routed_channels

SECRET_FIELDS = ("webhook_url", "routing_key", "auth_token")


class ChannelSerializer(CleanedModelSerializer):
    webhook_url = serializers.URLField(write_only=True, required=False, allow_blank=True)
    routing_key = fields.LineField(write_only=True, required=False, allow_blank=True, max_length=64)
    auth_token = fields.LineField(write_only=True, required=False, allow_blank=True, max_length=200)
    secrets = serializers.SerializerMethodField(help_text="Which secrets are set, shown masked.")

    class Meta:
        model = Channel
        fields = [
            "id", "name", "kind", "enabled", "description", "webhook_url", "chat_channel", "endpoint_url",
            "routing_key", "auth_token", "secrets",
        ]  # fmt: skip

    def get_secrets(self, channel: Channel) -> dict[str, str]:
        return {field: mask_secret(value) for field in SECRET_FIELDS if (value := getattr(channel, field))}


class ChannelViewSet(viewsets.ModelViewSet):
    """Notification channels. Secrets (chat webhook URL, routing key, gateway token) are write-only, shown masked."""

    queryset = Channel.objects.all()
    serializer_class = ChannelSerializer
    permission_classes = [writes_need(Role.ADMIN)]
    filterset_fields = ["kind", "enabled"]


def _masked(obj: SlackApp | PagerDutyWebhook, names: tuple[str, ...]) -> dict[str, str]:
    return {name: mask_secret(value) for name in names if (value := getattr(obj, name))}


class SlackAppSerializer(CleanedModelSerializer):
    signing_secret = fields.LineField(write_only=True, max_length=128)
    bot_token = fields.LineField(write_only=True, required=False, allow_blank=True, max_length=200)
    secrets = serializers.SerializerMethodField(help_text="Which secrets are set, shown masked.")

    class Meta:
        model = SlackApp
        fields = ["id", "name", "enabled", "signing_secret", "bot_token", "api_url", "secrets"]

    def get_secrets(self, app: SlackApp) -> dict[str, str]:
        return {
            field: mask_secret(value) for field in ("signing_secret", "bot_token") if (value := getattr(app, field))
        }


class SlackAppViewSet(viewsets.ModelViewSet):
    """The Slack app: signing secret (checks commands and buttons) and bot token (posts, edits, threads); both
    write-only, shown masked. The first enabled one is used."""

    queryset = SlackApp.objects.all()
    serializer_class = SlackAppSerializer
    permission_classes = [writes_need(Role.ADMIN)]


class PagerDutyWebhookSerializer(CleanedModelSerializer):
    secret = fields.LineField(write_only=True, max_length=128)
    api_token = fields.LineField(write_only=True, required=False, allow_blank=True, max_length=200)
    secrets = serializers.SerializerMethodField(help_text="Which secrets are set, shown masked.")

    class Meta:
        model = PagerDutyWebhook
        fields = ["id", "name", "enabled", "secret", "api_token", "api_url", "secrets"]

    def get_secrets(self, webhook: PagerDutyWebhook) -> dict[str, str]:
        return _masked(webhook, ("secret", "api_token"))


class PagerDutyWebhookViewSet(viewsets.ModelViewSet):
    """PagerDuty V3 webhook subscriptions: the signing secret and a REST API key (to read who acknowledged), both
    write-only, shown masked."""

    queryset = PagerDutyWebhook.objects.all()
    serializer_class = PagerDutyWebhookSerializer
    permission_classes = [writes_need(Role.ADMIN)]


class InboundEventOutput(serializers.ModelSerializer):
    class Meta:
        model = InboundEvent
        fields = ["id", "source", "event_id", "event_type", "status", "result", "received_at"]


class InboundEventListApi(generics.ListAPIView):
    """Events PagerDuty sent, and what the portal did with each."""

    queryset = InboundEvent.objects.all()
    serializer_class = InboundEventOutput
    filterset_fields = ["source", "status", "event_type"]


class RoutingRuleSerializer(ModelSerializer):
    event_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=EventKind.choices), required=False, help_text="None: every event kind."
    )

    class Meta:
        model = RoutingRule
        fields = ["id", "severity", "event_kinds", "channel"]


class RoutePreviewInput(serializers.Serializer):
    event = serializers.ChoiceField(choices=EventKind.choices)
    severity = serializers.ChoiceField(choices=Severity.choices)


class RoutePreviewOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    enabled = serializers.BooleanField()
    chat_channel = serializers.CharField()


class RoutingRuleViewSet(viewsets.ModelViewSet):
    """Which channels each event kind and severity go to."""

    queryset = RoutingRule.objects.select_related("channel")
    serializer_class = RoutingRuleSerializer
    permission_classes = [writes_need(Role.ADMIN)]
    filterset_fields = ["severity", "channel"]

    @extend_schema(parameters=[RoutePreviewInput], responses={200: RoutePreviewOutput(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def preview(self, request: Request) -> Response:
        """What goes where: the channels an event of this kind and severity reaches (disabled ones send nothing)."""
        query = RoutePreviewInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        channels = routed_channels(
            event=query.validated_data["event"], severity=query.validated_data["severity"], enabled_only=False
        )
        return Response(RoutePreviewOutput(channels, many=True).data)


class SubscriptionSerializer(CleanedModelSerializer):
    user = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, allow_null=True
    )
    services = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), many=True, required=False
    )
    event_kinds = serializers.ListField(child=serializers.ChoiceField(choices=EventKind.choices), allow_empty=False)

    class Meta:
        model = Subscription
        fields = ["id", "user", "email", "services", "event_kinds", "active", "public", "confirmed_at", "created_at"]
        read_only_fields = ["public", "confirmed_at"]  # public ones are made on the status page, by their owner


class SubscriptionViewSet(viewsets.ModelViewSet):
    """Stakeholder subscriptions: a user or mailing list, services (none: all) and event kinds."""

    queryset = Subscription.objects.select_related("user").prefetch_related("services")
    serializer_class = SubscriptionSerializer
    permission_classes = [writes_need(Role.ADMIN)]
    filterset_fields = ["active"]

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()


class DeliveryOutput(serializers.ModelSerializer):
    channel = serializers.StringRelatedField()
    event = serializers.CharField(source="notification.event_kind")
    severity = serializers.CharField(source="notification.severity")
    title = serializers.CharField(source="notification.title")
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Delivery
        fields = [
            "id", "notification", "event", "severity", "title", "channel", "user", "address", "status", "attempts",
            "next_attempt_at", "last_error", "response", "delivered_at", "created_at", "updated_at",
        ]  # fmt: skip


class DeliveryListApi(generics.ListAPIView):
    """The delivery log: every message the portal tried to send, with its outcome."""

    serializer_class = DeliveryOutput
    filterset_class = DeliveryFilter

    def get_queryset(self) -> QuerySet[Delivery]:
        return deliveries()


class DeliveryDetailApi(generics.RetrieveAPIView):
    serializer_class = DeliveryOutput

    def get_queryset(self) -> QuerySet[Delivery]:
        return deliveries()


class DeliveryRetryApi(APIView):
    """Send a failed delivery again (Responder and above; audited)."""

    permission_classes = [role_permission(Role.RESPONDER)]

    @extend_schema(
        request=None,
        responses={
            200: DeliveryOutput,
            400: error_response("The delivery's channel is disabled."),
            409: error_response("Only a failed delivery is retried."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        delivery = delivery_retry(delivery=get_object_or_404(Delivery, pk=pk), actor=request.user)
        return Response(DeliveryOutput(deliveries().get(pk=delivery.pk)).data)
