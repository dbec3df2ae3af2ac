from django.urls import path
from rest_framework.routers import SimpleRouter

from portal.notifications.api.views import (
    ChannelViewSet,
    DeliveryDetailApi,
    DeliveryListApi,
    DeliveryRetryApi,
    RoutingRuleViewSet,
    SubscriptionViewSet,
)

router = SimpleRouter()
router.register("channels", ChannelViewSet, basename="channel")
router.register("routing-rules", RoutingRuleViewSet, basename="routing-rule")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")

urlpatterns = [
    path("deliveries/", DeliveryListApi.as_view(), name="delivery-list"),
    path("deliveries/<int:pk>/", DeliveryDetailApi.as_view(), name="delivery-detail"),
    path("deliveries/<int:pk>/retry/", DeliveryRetryApi.as_view(), name="delivery-retry"),
    *router.urls,
]
