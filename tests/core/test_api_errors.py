"""Under /api/ every error answer is JSON, {"detail": ...}, including the ones Django gives before or after DRF:
an unknown URL, a body over the size limit, an unhandled exception. Pages keep their HTML error pages."""

import json

import pytest
from django.test import Client

from portal.accounts.roles import Role


def _json_detail(response) -> str:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing/", "/api/v1/incidents/1/no-such-action/", "/api/nothing"])
def test_an_unknown_api_url_is_a_json_404(token_client, path):
    response = token_client(Role.VIEWER).get(path)
    assert response.status_code == 404
    assert _json_detail(response) == "Not found."


def test_an_unknown_api_url_is_a_json_404_without_credentials_too(api_client, db):
    response = api_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert _json_detail(response) == "Not found."


def test_an_unknown_page_is_still_an_html_404(admin_client):
    response = admin_client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(("method", "path"), [("delete", "/api/health"), ("put", "/api/v1/incidents/")])
def test_a_method_not_allowed_is_a_json_405(token_client, method, path):
    response = getattr(token_client(Role.ADMIN), method)(path)
    assert response.status_code == 405
    assert "not allowed" in _json_detail(response)


def test_a_json_body_over_the_size_limit_is_a_json_400(token_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    body = {"title": "Checkout errors", "severity": "P3", "impact_summary": "x" * 5_000}
    client = token_client(Role.RESPONDER)
    response = client.post("/api/v1/incidents/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert _json_detail(response) == "The request body is too large."


def test_a_form_body_over_the_size_limit_is_a_json_400(token_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    body = {"title": "Checkout errors", "severity": "P3", "impact_summary": "x" * 5_000}
    response = token_client(Role.RESPONDER).post("/api/v1/incidents/", body, format="multipart")
    assert response.status_code == 400
    assert _json_detail(response) == "The request body is too large."


@pytest.mark.urls("tests.core.failing_urls")
def test_an_unhandled_exception_in_the_api_is_a_json_500(db):
    response = Client(raise_request_exception=False).get("/api/v1/failing/")
    assert response.status_code == 500
    assert _json_detail(response) == "Server error: it has been logged."


@pytest.mark.urls("tests.core.failing_urls")
def test_an_unhandled_exception_in_a_page_is_still_an_html_500(db):
    response = Client(raise_request_exception=False).get("/failing/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
