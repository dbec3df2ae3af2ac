"""Routes under /api/v1/. Each app adds its own `api/urls.py` here as it lands."""

from django.urls import include, path

from incidents.api import alert_urls
from portal.accounts.api.views import LockoutListApi, LockoutReleaseApi, MeApi, TokenListCreateApi, TokenRevokeApi
from portal.core.api.views import ApiRootApi, AuditEntryListApi

app_name = "api"

urlpatterns = [
    path("", ApiRootApi.as_view(), name="root"),
    path("me/", MeApi.as_view(), name="me"),
    path("tokens/", TokenListCreateApi.as_view(), name="token-list"),
    path("tokens/<int:pk>/revoke/", TokenRevokeApi.as_view(), name="token-revoke"),
    path("lockouts/", LockoutListApi.as_view(), name="lockout-list"),
    path("lockouts/unlock/", LockoutReleaseApi.as_view(), name="lockout-release"),
    path("audit/", AuditEntryListApi.as_view(), name="audit-list"),
    path("notifications/", include("portal.notifications.api.urls")),
    path("oncall/", include("oncall.api.urls")),
    path("actions/", include("portal.cluster.api.urls")),
    path("", include("incidents.api.urls")),
    path("integrations/", include(alert_urls.integration_urlpatterns)),
    path("integrations/", include("portal.notifications.api.integration_urls")),
    path("alerts/", include(alert_urls.alert_urlpatterns)),
    path("", include("maintenance.api.urls")),
    path("", include("operations.api.urls")),
    path("contacts/", include("contacts.api.urls")),
]
