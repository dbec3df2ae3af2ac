import re

import yaml
from django.urls import reverse

from portal.accounts.roles import Role


def test_openapi_schema_describes_the_api(token_client):
    response = token_client(Role.VIEWER).get(reverse("schema"), {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/me/", "/api/v1/tokens/", "/api/v1/tokens/{id}/revoke/", "/api/v1/audit/"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }


def test_schema_default_format_is_yaml(token_client):
    response = token_client(Role.VIEWER).get(reverse("schema"))
    assert yaml.safe_load(response.content)["info"]["title"] == "Broxiva Ops Portal API"


def test_swagger_ui_uses_only_local_assets(client, make_user):
    client.force_login(make_user(Role.VIEWER))

    response = client.get(reverse("swagger-ui"))

    html = response.content.decode()
    assert response.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, "expected the page to load scripts and styles"
    # Static files, and the page's own start-up script (served apart from the page for the CSP: no inline script).
    assert all(source.startswith(("/static/", "/api/docs/?script")) for source in sources), sources
    assert "<script>" not in html
    assert "<style>" not in html
    assert "cdn" not in html.lower()
    for source in sources:
        assert client.get(source).status_code == 200, source
