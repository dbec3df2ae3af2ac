from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from maintenance import views as maintenance_views
from maintenance.urls import freeze_urlpatterns
from portal.accounts import views as account_views
from portal.core import views as core_views
from portal.core.api.views import HealthApi, HealthDetailedApi
from portal.notifications import views as notification_views

# Under /api/ Django's own error answers are JSON, as DRF's are.
handler400 = "portal.core.errors.bad_request"
handler403 = "portal.core.errors.permission_denied"
handler404 = "portal.core.errors.page_not_found"
handler500 = "portal.core.errors.server_error"

urlpatterns = [
    path("", core_views.dashboard, name="dashboard"),
    path("system-health/", core_views.system_health, name="system-health"),
    path("audit/", core_views.audit_log, name="audit-log"),
    path("audit/chain/", core_views.audit_chain, name="audit-chain"),
    path("tokens/", account_views.token_list, name="token-list"),
    path("tokens/<int:pk>/revoke/", account_views.token_revoke, name="token-revoke"),
    path("lockouts/", account_views.lockout_list, name="lockout-list"),
    path("lockouts/unlock/", account_views.lockout_release, name="lockout-release"),
    path("incidents/", include("incidents.urls")),
    path("maintenance/", include("maintenance.urls")),
    path("freezes/", include(freeze_urlpatterns)),
    path("status/", maintenance_views.status_page, name="status-page"),
    path("status/subscribe/", maintenance_views.status_subscribe, name="status-subscribe"),
    path("status/confirm/<str:token>/", maintenance_views.status_confirm, name="status-confirm"),
    path("status/unsubscribe/<str:token>/", maintenance_views.status_unsubscribe, name="status-unsubscribe"),
    path("", include("operations.urls")),
    path("oncall/", include("oncall.urls")),
    path("contacts/", include("contacts.urls")),
    path("actions/", include("portal.cluster.urls")),
    path("notifications/", notification_views.delivery_list, name="delivery-list"),
    path("notifications/<int:pk>/retry/", notification_views.delivery_retry_view, name="delivery-retry"),
    path("profile/", account_views.profile, name="profile"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("login/", account_views.PortalLoginView.as_view(), name="login"),
    path("logout/", account_views.logout_view, name="logout"),
    path("oidc/authenticate/", account_views.oidc_authenticate, name="oidc_authentication_init"),
    path("oidc/callback/", account_views.oidc_callback, name="oidc_authentication_callback"),
    path("admin/", admin.site.urls),
    path("metrics", core_views.metrics_view, name="metrics"),
    re_path(r"^api/health/?$", HealthApi.as_view(), name="health"),
    re_path(r"^api/health/detailed/?$", HealthDetailedApi.as_view(), name="health-detailed"),
    path("api/v1/", include("portal.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # A person reads the docs in a browser: send them to the login page rather than answer 401. The split view serves
    # Swagger UI's start-up script from this URL (?script) instead of inline, as the Content-Security-Policy requires.
    path("api/docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="swagger-ui"),
]

if settings.BENCH_MODE:
    from portal.core.bench import FloorApi

    urlpatterns.append(path("api/v1/bench/floor/", FloorApi.as_view(), name="bench-floor"))
