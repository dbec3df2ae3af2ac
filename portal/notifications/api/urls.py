from django.urls import path
from rest_framework.routers import SimpleRouter

from portal.notifications.api.views import (
    ChannelViewSet,
    DeliveryDetailApi,
    DeliveryListApi,
    DeliveryRetryApi,
    InboundEventListApi,
    PagerDutyWebhookViewSet,
    RoutingRuleViewSet,
    SlackAppViewSet,
    SubscriptionViewSet,
)

router = SimpleRouter()
router.register("channels", ChannelViewSet, basename="channel")
router.register("routing-rules", RoutingRuleViewSet, basename="routing-rule")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("slack-apps", SlackAppViewSet, basename="slack-app")
router.register("pagerduty-webhooks", PagerDutyWebhookViewSet, basename="pagerduty-webhook-config")

urlpatterns = [
    path("deliveries/", DeliveryListApi.as_view(), name="delivery-list"),
    path("deliveries/<int:pk>/", DeliveryDetailApi.as_view(), name="delivery-detail"),
    path("deliveries/<int:pk>/retry/", DeliveryRetryApi.as_view(), name="delivery-retry"),
    path("inbound-events/", InboundEventListApi.as_view(), name="inbound-event-list"),
    *router.urls,
]
