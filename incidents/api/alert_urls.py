"""Included by portal/api_urls.py under integrations/ and alerts/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from incidents.api.alerts import (
    AlertDetailApi,
    AlertListApi,
    AlertmanagerWebhookApi,
    IntegrationDetailApi,
    IntegrationDisableApi,
    IntegrationEnableApi,
    IntegrationListCreateApi,
    IntegrationRotateTokenApi,
    SuppressionRuleViewSet,
)

integration_urlpatterns = [
    path("", IntegrationListCreateApi.as_view(), name="integration-list"),
    path("alertmanager/", AlertmanagerWebhookApi.as_view(), name="alertmanager-webhook"),
    path("<int:pk>/", IntegrationDetailApi.as_view(), name="integration-detail"),
    path("<int:pk>/rotate-token/", IntegrationRotateTokenApi.as_view(), name="integration-rotate-token"),
    path("<int:pk>/disable/", IntegrationDisableApi.as_view(), name="integration-disable"),
    path("<int:pk>/enable/", IntegrationEnableApi.as_view(), name="integration-enable"),
]

router = SimpleRouter()
router.register("suppression-rules", SuppressionRuleViewSet, basename="suppression-rule")

alert_urlpatterns = [
    path("", AlertListApi.as_view(), name="alert-list"),
    path("<int:pk>/", AlertDetailApi.as_view(), name="alert-detail"),
    *router.urls,
]
