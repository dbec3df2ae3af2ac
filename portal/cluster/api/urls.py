from django.urls import path
from rest_framework.routers import SimpleRouter

from portal.cluster.api import views

router = SimpleRouter()
router.register("targets", views.TargetViewSet, basename="action-target")
router.register("namespaces", views.NamespaceViewSet, basename="action-namespace")
router.register("workloads", views.WorkloadViewSet, basename="action-workload")

urlpatterns = [
    path("", views.ActionRunListApi.as_view(), name="action-list"),
    path("<int:pk>/", views.ActionRunDetailApi.as_view(), name="action-detail"),
    path("<int:pk>/confirm/", views.ActionRunConfirmApi.as_view(), name="action-confirm"),
    path("<int:pk>/approve/", views.ActionRunApproveApi.as_view(), name="action-approve"),
    path("<int:pk>/reject/", views.ActionRunRejectApi.as_view(), name="action-reject"),
    path("<int:pk>/cancel/", views.ActionRunCancelApi.as_view(), name="action-cancel"),
    path("<int:pk>/resolve/", views.ActionRunResolveApi.as_view(), name="action-resolve"),
    path("looks/", views.LookListApi.as_view(), name="look-list"),
    path("looks/<int:pk>/", views.LookDetailApi.as_view(), name="look-detail"),
    path("targets/<slug:slug>/nodes/", views.TargetNodesApi.as_view(), name="action-target-nodes"),
    *router.urls,
]
