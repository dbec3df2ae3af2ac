"""Included by portal/api_urls.py under integrations/ and alerts/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from incidents.api.alerts import (
    AlertDetailApi,
    AlertGroupDetailApi,
    AlertGroupListApi,
    AlertListApi,
    AlertmanagerWebhookApi,
    IntegrationDetailApi,
    IntegrationDisableApi,
    IntegrationEnableApi,
    IntegrationGroupingApi,
    IntegrationListCreateApi,
    IntegrationRotateTokenApi,
    SuppressionRuleViewSet,
)

integration_urlpatterns = [
    path("", IntegrationListCreateApi.as_view(), name="integration-list"),
    path("alertmanager/", AlertmanagerWebhookApi.as_view(), name="alertmanager-webhook"),
    path("<int:pk>/", IntegrationDetailApi.as_view(), name="integration-detail"),
    path("<int:pk>/rotate-token/", IntegrationRotateTokenApi.as_view(), name="integration-rotate-token"),
    path("<int:pk>/grouping/", IntegrationGroupingApi.as_view(), name="integration-grouping"),
    path("<int:pk>/disable/", IntegrationDisableApi.as_view(), name="integration-disable"),
    path("<int:pk>/enable/", IntegrationEnableApi.as_view(), name="integration-enable"),
]

router = SimpleRouter()
router.register("suppression-rules", SuppressionRuleViewSet, basename="suppression-rule")

alert_urlpatterns = [
    path("", AlertListApi.as_view(), name="alert-list"),
    path("<int:pk>/", AlertDetailApi.as_view(), name="alert-detail"),
    path("groups/", AlertGroupListApi.as_view(), name="alert-group-list"),
    path("groups/<int:pk>/", AlertGroupDetailApi.as_view(), name="alert-group-detail"),
    *router.urls,
]
