"""Requests no view could use are refused before any view runs, as a 400 naming the field: NUL characters anywhere
(PostgreSQL stores them in neither text nor JSON, so any lookup meeting one failed with a DataError), JSON nested
deeper than Python's parser recurses (RecursionError)."""

import json

import pytest
from django.utils.http import urlencode
from rest_framework import exceptions

from portal.accounts.roles import Role
from portal.core.api.parsers import check_json

# NUL characters: PostgreSQL refuses them in text and JSON, so every lookup by a slug, username or code would fail.

NUL_BODIES = [
    ("/api/v1/incidents/", {"title": "Checkout errors", "severity": "P\u00004"}, "severity"),
    ("/api/v1/incidents/", {"title": "Checkout errors", "severity": "P4", "services": ["api\u0000"]}, "services[0]"),
    ("/api/v1/incidents/", {"title": "Checkout errors", "severity": "P4", "commander": "ada\u0000"}, "commander"),
    (
        "/api/v1/deployments/",
        {"service": "api\u0000", "environment": "staging", "version": "1", "commit": "a" * 40, "who": "ci"},
        "service",
    ),
    ("/api/v1/actions/", {"kind": "scale", "target": "prod\u0000", "reason": "load"}, "target"),
    (
        "/api/v1/oncall/overrides/",
        {"rotation": 1, "user": "ann\u0000", "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
        "user",
    ),
    ("/api/v1/tokens/", {"user": "ada\u0000", "name": "ci"}, "user"),
    (
        "/api/v1/freeze/rules/",
        {"name": "x", "kind": "black_friday", "level": "blocked", "environments": ["production\u0000"]},
        "environments[0]",
    ),
]
NUL_FORMS = [
    ("/api/v1/incidents/", {"title": "Checkout errors", "severity": "P\u00004"}, "severity"),
    ("/api/v1/tokens/", {"user": "ada\u0000", "name": "ci"}, "user"),
    ("/api/v1/actions/", {"kind": "scale", "target": "prod", "reason": "load\u0000"}, "reason"),
]


@pytest.mark.parametrize(("path", "body", "field"), NUL_BODIES, ids=[f"{p}:{f}" for p, _, f in NUL_BODIES])
def test_a_nul_character_in_a_json_body_is_a_400_naming_the_field(token_client, path, body, field):
    response = token_client(Role.ADMIN).post(path, body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["field"] == field
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize(("path", "body", "field"), NUL_FORMS, ids=[f"{p}:{f}" for p, _, f in NUL_FORMS])
@pytest.mark.parametrize("content", ["multipart", "form"])
def test_a_nul_character_in_a_form_body_is_a_400_naming_the_field(token_client, path, body, field, content):
    client = token_client(Role.ADMIN)
    if content == "multipart":
        response = client.post(path, body, format="multipart")
    else:
        response = client.post(path, urlencode(body), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["field"] == field
    assert "NUL" in response.json()["detail"]


NUL_URLS = [
    "/api/v1/services/api%00/",
    "/api/v1/slos/api%00/",
    "/api/v1/actions/targets/prod%00/",
    "/api/v1/incidents/?q=%00",
]


@pytest.mark.parametrize("path", NUL_URLS)
def test_a_nul_character_in_the_url_is_a_400(token_client, path):
    response = token_client(Role.ADMIN).get(path)
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_a_nul_character_in_a_page_url_is_a_400(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/incidents/", {"commander": "ada\x00"}).status_code == 400


# JSON nested deeper than Python's parser recurses.


@pytest.mark.parametrize("depth", [65, 950, 5000])
@pytest.mark.parametrize("path", ["/api/v1/incidents/", "/api/v1/services/", "/api/v1/maintenance/windows/"])
def test_json_nested_too_deep_is_a_400(token_client, path, depth):
    for body in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        response = token_client(Role.ADMIN).post(path, body, content_type="application/json")
        assert response.status_code == 400, (depth, response.content[:300])
        assert "nested more than 64 levels" in response.json()["detail"]


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("[" * 64 + "]" * 64, False),
        ("[" * 65 + "]" * 65, True),
        ('{"a":' * 63 + "1" + "}" * 63, False),
        ('{"a":' * 64 + "1" + "}" * 64, True),
        ('[[1, {"b": [' + "[" * 61 + "]" * 61 + "]}]]", True),  # deepest on a later branch
    ],
)
def test_the_depth_limit_counts_the_document_as_level_one(text, refused):
    data = json.loads(text)
    if refused:
        with pytest.raises(exceptions.ParseError, match="nested more than 64 levels"):
            check_json(data, text)
    else:
        check_json(data, text)


def test_a_nul_in_a_key_or_deep_value_is_named_by_its_place():
    for text, field in (('{"x": {"a\\u0000": 1}}', "x"), ('{"x": [1, {"y": "b\\u0000"}]}', "x[1].y")):
        with pytest.raises(exceptions.ValidationError) as refused:
            check_json(json.loads(text), text)
        assert list(refused.value.detail) == [field]
    check_json(json.loads('{"x": "\\\\u0000"}'), '{"x": "\\\\u0000"}')  # an escaped backslash, then "u0000"
