from django.urls import path
from rest_framework.routers import SimpleRouter

from contacts.api import views

router = SimpleRouter()
router.register("teams", views.TeamViewSet, basename="team")
router.register("vendors", views.VendorViewSet, basename="vendor")
router.register("environments", views.DeploymentEnvironmentViewSet, basename="deployment-environment")
router.register("links", views.KeyLinkViewSet, basename="key-link")
router.register("dashboards", views.DashboardViewSet, basename="dashboard")

urlpatterns = [
    path("incidents/<int:pk>/", views.IncidentContactsApi.as_view(), name="incident-contacts"),
    *router.urls,
]
