"""Every route requires authentication except an explicit public list."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {
    "health",
    "login",
    # Alertmanager's webhook authenticates with an integration's bearer token, never a user: it answers 401 without
    # one (tests/incidents/test_alert_intake.py), which this walk's anonymous GET cannot tell from a user check.
    "api:alertmanager-webhook",
    # Slack's commands and buttons and PagerDuty's webhooks are signed by them, never sent by a user: an unsigned or
    # badly signed request is a 401 doing nothing (tests/notifications/test_slack.py, test_pagerduty.py).
    "api:slack-commands",
    "api:slack-interactions",
    "api:pagerduty-webhook",
    # The status page (HTML and JSON) is for customers: public by design, and it shows only public incidents.
    "status-page",
    "api:status",
    # Customers subscribe to it by email: a subscription exists only once the signed link emailed to the address is
    # followed, and the signed token is the credential for confirming and unsubscribing; a bad token is a 400
    # (tests/maintenance/test_status_page.py). Subscribing is throttled per address.
    "status-subscribe",
    "status-confirm",
    "status-unsubscribe",
    "api:status-subscribe",
    "api:status-confirm",
    "api:status-unsubscribe",
    # iCalendar feeds are fetched by calendar apps without a session; the secret token in the URL is the credential,
    # and a bad or revoked token is a 404 (tests/oncall/test_views.py).
    "oncall-calendar",
    # The icon, which browsers fetch before anyone signs in.
    "favicon",
    # Prometheus' scrape: a bearer token or an allowed address, never a user; else 403 (tests/core/test_metrics.py).
    "metrics",
    # Single sign-on's start and the provider's way back, like the login page (tests/accounts/test_oidc.py).
    "oidc_authentication_init",
    "oidc_authentication_callback",
}


def all_routes(resolver: URLResolver | None = None, prefix: str = "", namespace: str = "") -> list[tuple[str, str]]:
    routes = []
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            routes += all_routes(pattern, route, inner)
        elif isinstance(pattern, URLPattern):
            routes.append((f"{namespace}{pattern.name}", route))
    return routes


def concrete(route: str) -> str:
    """A path for the route with every parameter filled in."""
    path = re.sub(r"\(\?P<[^>]+>[^)]*\)", "1", route)
    path = re.sub(r"<(?:int:)?[^>]+>", "1", path)
    return "/" + path.replace("/?", "/").replace("\\", "")


ROUTES = [
    (name, concrete(route)) for name, route in all_routes() if name.split(":")[0] != "admin" and name not in PUBLIC
]


@pytest.mark.parametrize(("name", "path"), ROUTES, ids=[name for name, _ in ROUTES])
def test_anonymous_requests_are_refused(client, db, name, path):
    response = client.get(path)
    if path.startswith("/api/") and name != "swagger-ui":
        assert response.status_code == 401, path
    else:
        assert response.status_code in {302, 405}, path
        if response.status_code == 302:
            assert response["Location"].startswith("/login/")


def test_an_htmx_request_after_the_session_ended_sends_the_whole_page_to_the_sign_in(client, db):
    """A page polling itself must not get the sign-in form swapped into part of it."""
    response = client.get("/incidents/7/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/incidents/7/")
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/login/?next=/incidents/7/"


@pytest.mark.parametrize("path", ["/api/health", "/login/", "/status/", "/api/v1/status/"])
def test_public_routes_answer_anonymous_requests(client, db, path):
    assert client.get(path).status_code == 200


def test_the_walk_sees_the_routes_we_expect():
    names = {name for name, _ in ROUTES}
    assert {"dashboard", "audit-log", "api:me", "api:token-list", "health-detailed", "schema", "swagger-ui"} <= names
    assert {"api:integration-list", "api:alert-list", "api:suppression-rule-list"} <= names


def test_admin_site_needs_a_staff_login(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]
