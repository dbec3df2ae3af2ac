"""API throttling: per token or user, per anonymous address, and a separate, generous scope for integrations. The
suite runs with the rates raised (tests/settings.py); these tests set the rates they mean."""

import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from portal import settings as portal_settings
from portal.accounts.roles import Role
from portal.accounts.services import api_token_create
from tests.incidents.alertmanager import WEBHOOK, alert, payload, webhook_client

DEFAULT_RATES = portal_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]


def rates(**scopes: str):
    from django.conf import settings

    return override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**DEFAULT_RATES, **scopes}}
    )


def statuses(client: APIClient, path: str, times: int, **extra: str) -> list[int]:
    return [client.get(path, **extra).status_code for _ in range(times)]


def test_the_defaults_are_the_documented_ones():
    assert DEFAULT_RATES == {"user": "1000/min", "anon": "60/min", "integration": "6000/min", "subscribe": "10/hour"}


@pytest.mark.django_db
def test_anonymous_requests_over_the_rate_get_429_with_retry_after_and_a_json_detail():
    client = APIClient()
    with rates(anon="3/min"):
        assert statuses(client, reverse("api:status"), 3) == [200, 200, 200]
        response = client.get(reverse("api:status"))

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["detail"].startswith("Request was throttled.")


@pytest.mark.django_db
def test_each_anonymous_address_has_its_own_budget():
    client = APIClient()
    with rates(anon="2/min"):
        assert statuses(client, reverse("api:status"), 3, REMOTE_ADDR="192.0.2.1") == [200, 200, 429]
        assert statuses(client, reverse("api:status"), 2, REMOTE_ADDR="192.0.2.2") == [200, 200]


@pytest.mark.django_db
def test_forwarded_addresses_count_only_behind_a_trusted_proxy():
    client = APIClient()
    with rates(anon="1/min"):
        spoofed = [
            client.get(reverse("api:status"), HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(1, 3)
        ]
        assert spoofed == [200, 429]  # a client cannot buy a new budget with a made-up header

        # Nested, not the `settings` fixture: that one would restore, after the test, the rates in force here.
        with override_settings(AUDIT_TRUST_X_FORWARDED_FOR=True):
            assert client.get(reverse("api:status"), HTTP_X_FORWARDED_FOR="10.0.0.9").status_code == 200


def test_each_token_has_its_own_budget_and_a_session_another(token_client, make_user):
    first, second = token_client(Role.VIEWER), token_client(Role.VIEWER)
    same_user_other_token = APIClient()
    key = api_token_create(user=first.user, name="another", created_by=None).key
    same_user_other_token.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    browser = APIClient()
    browser.force_authenticate(first.user)
    with rates(user="2/min"):
        assert statuses(first, reverse("api:me"), 3) == [200, 200, 429]
        assert statuses(second, reverse("api:me"), 2) == [200, 200]
        assert statuses(same_user_other_token, reverse("api:me"), 2) == [200, 200]
        assert statuses(browser, reverse("api:me"), 2) == [200, 200]


def test_a_signed_in_user_is_not_held_to_the_anonymous_rate(token_client):
    client = token_client(Role.VIEWER)
    with rates(anon="1/min"):
        assert statuses(client, reverse("api:me"), 3) == [200, 200, 200]


def test_a_lowered_rate_still_answers_with_retry_after(token_client):
    client = token_client(Role.VIEWER)
    assert statuses(client, reverse("api:me"), 5) == [200] * 5
    with rates(user="2/min"):
        response = client.get(reverse("api:me"))
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


@pytest.mark.django_db
def test_liveness_is_never_throttled():
    with rates(anon="1/min"):
        assert statuses(APIClient(), "/api/health", 5) == [200] * 5


@pytest.mark.django_db
def test_an_alert_storm_of_200_posts_gets_through_at_the_default_rates():
    _, client = webhook_client()
    firing = [alert(f"Storm{n}", service="checkout", severity="warning") for n in range(20)]
    with rates():  # the production defaults
        answers = [client.post(WEBHOOK, payload(firing[n % 20]), format="json").status_code for n in range(200)]
    assert answers == [200] * 200


@pytest.mark.django_db
def test_integrations_have_their_own_scope_apart_from_anonymous_and_user_limits(token_client):
    _, alertmanager = webhook_client()
    _, other = webhook_client(name="alertmanager-staging")
    body = payload(alert("DiskFull", service="checkout", severity="warning"))
    with rates(integration="2/min", anon="1/min", user="1/min"):
        answers = [alertmanager.post(WEBHOOK, body, format="json").status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        assert other.post(WEBHOOK, body, format="json").status_code == 200  # per integration

        gate = token_client(Role.VIEWER)
        check = reverse("api:freeze-check")
        assert statuses(gate, check, 2, QUERY_STRING="environment=staging") == [200, 200]  # the deploy gate too
