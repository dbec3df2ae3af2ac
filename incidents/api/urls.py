from django.urls import path
from rest_framework.routers import SimpleRouter

from incidents.api import views

router = SimpleRouter()
router.register("severities", views.SeverityViewSet, basename="severity")
router.register("services", views.ServiceViewSet, basename="service")
router.register("escalation-policies", views.EscalationPolicyViewSet, basename="escalation-policy")
router.register("escalation-levels", views.EscalationLevelViewSet, basename="escalation-level")

urlpatterns = [
    path("incidents/", views.IncidentListApi.as_view(), name="incident-list"),
    path("incidents/<int:pk>/", views.IncidentDetailApi.as_view(), name="incident-detail"),
    path("incidents/<int:pk>/acknowledge/", views.IncidentAcknowledgeApi.as_view(), name="incident-acknowledge"),
    path("incidents/<int:pk>/transition/", views.IncidentTransitionApi.as_view(), name="incident-transition"),
    path("incidents/<int:pk>/severity/", views.IncidentSeverityApi.as_view(), name="incident-severity"),
    path("incidents/<int:pk>/assign/", views.IncidentAssignApi.as_view(), name="incident-assign"),
    path("incidents/<int:pk>/roles/", views.IncidentRoleApi.as_view(), name="incident-roles"),
    path("incidents/<int:pk>/flags/", views.IncidentFlagApi.as_view(), name="incident-flag"),
    path("incidents/<int:pk>/escalate/", views.IncidentEscalateApi.as_view(), name="incident-escalate"),
    path("incidents/<int:pk>/updates/", views.IncidentStatusUpdatesApi.as_view(), name="incident-updates"),
    path(
        "incidents/<int:pk>/updates/preview/",
        views.IncidentStatusUpdatePreviewApi.as_view(),
        name="incident-update-preview",
    ),
    path("incidents/<int:pk>/timeline/", views.IncidentTimelineApi.as_view(), name="incident-timeline"),
    path("incidents/<int:pk>/review/", views.ReviewApi.as_view(), name="incident-review"),
    path("incidents/<int:pk>/review/publish/", views.ReviewPublishApi.as_view(), name="incident-review-publish"),
    path("incidents/<int:pk>/review/action-items/", views.ActionItemsApi.as_view(), name="incident-action-items"),
    path(
        "incidents/<int:pk>/review/action-items/<int:item_pk>/",
        views.ActionItemApi.as_view(),
        name="incident-action-item",
    ),  # fmt: skip
    *router.urls,
]
