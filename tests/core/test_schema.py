import re

import yaml
from django.core.exceptions import FieldDoesNotExist
from django.core.management import call_command
from django.urls import reverse
from rest_framework import serializers

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


def _project_model_serializers() -> list[type[serializers.ModelSerializer]]:
    import portal.api_urls  # noqa: F401 - the API's URLs import every serializer

    found, pending = [], list(serializers.ModelSerializer.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in PROJECT_PACKAGES and hasattr(cls, "Meta"):
            found.append(cls)
    return found


PROJECT_PACKAGES = {"portal", "incidents", "maintenance", "oncall", "operations"}


def test_declared_fields_over_nullable_columns_allow_null():
    """A field declared by hand (`SlugRelatedField(slug_field="username", read_only=True)`) does not inherit the
    column's null=True as generated fields do; without allow_null the schema promises a value that may be null."""
    missing = []
    for cls in _project_model_serializers():
        model = cls.Meta.model
        for name, declared in cls._declared_fields.items():
            source = declared.source or name
            if isinstance(declared, serializers.SerializerMethodField | serializers.ManyRelatedField) or "." in source:
                continue
            if getattr(declared, "many", False) or getattr(declared, "allow_null", True):
                continue
            try:
                column = model._meta.get_field(source)
            except FieldDoesNotExist:
                continue
            if getattr(column, "null", False):
                missing.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    assert not missing, f"declare allow_null=True on: {sorted(set(missing))}"


def test_schema_generates_without_warnings_and_validates(tmp_path):
    """What the deploy check runs: a warning means part of the schema is guessed."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_every_operation_documents_the_errors_it_can_answer(token_client):
    paths = token_client(Role.VIEWER).get(reverse("schema"), {"format": "json"}).json()["paths"]
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

    def codes(path: str, method: str) -> list[str]:
        return list(paths[path][method]["responses"])

    assert codes("/api/v1/incidents/{id}/", "get") == ["200", "401", "403", "404", "429"]  # 429: throttled
    assert codes("/api/v1/incidents/", "get") == ["200", "400", "401", "403", "404", "429"]  # filters; a page past end
    assert codes("/api/v1/incidents/", "post") == ["201", "400", "401", "403", "415", "429"]  # 415: an unread body
    assert codes("/api/v1/incidents/{id}/transition/", "post") == [
        "200", "400", "401", "403", "404", "409", "415", "429"
    ]  # fmt: skip
    assert codes("/api/v1/status/", "get") == ["200", "429"]  # public, and throttled per address
    assert codes("/api/health/", "get") == ["200"]  # never throttled: probes must always get an answer
    assert "404" in codes("/api/v1/lockouts/unlock/", "post")  # nothing recorded for that username or address
    assert "400" in codes("/api/v1/backup-schedules/", "get")  # only paging, and a NUL byte in `page_size` is a 400
    assert paths["/api/v1/incidents/{id}/"]["get"]["responses"]["404"]["content"] == error
    assert paths["/api/v1/tokens/{id}/revoke/"]["post"]["responses"]["409"]["content"] == error


def test_times_of_day_are_documented_without_a_utc_offset(token_client):
    """JSON Schema's `time` format requires an offset; a window's start time is a local wall-clock time."""
    schema = token_client(Role.VIEWER).get(reverse("schema"), {"format": "json"}).json()
    start_time = schema["components"]["schemas"]["WindowOutput"]["properties"]["start_time"]

    assert "format" not in start_time
    assert re.fullmatch(start_time["pattern"], "02:00:00")
