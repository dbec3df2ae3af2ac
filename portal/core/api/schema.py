"""The OpenAPI schema documents the error answers every view can give, in the API's one error shape."""

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    """What portal.core.api.exceptions answers: `field` and `errors` for invalid input, and whatever extra the domain
    error carries (e.g. the freeze that refused a change)."""

    detail = serializers.CharField()
    field = serializers.CharField(required=False, allow_null=True)
    errors = serializers.DictField(child=serializers.JSONField(), required=False)


def error_response(description: str) -> OpenApiResponse:
    """For `@extend_schema(responses={409: error_response("...")})`, where a view has an error of its own to name."""
    return OpenApiResponse(ErrorSerializer, description=description)


GENERIC_ERRORS = {
    400: "The input is invalid; `errors` gives each field's messages.",
    401: "No valid token (or session) came with the request.",
    403: "The caller's role, or the rules, do not allow this.",
    404: "No such object, or no such page of a list.",
    409: "Other objects still refer to it (`referenced_by` counts them): change or remove those first.",
    415: "The body's Content-Type is not one the operation reads.",
    429: "Too many requests from this caller; `Retry-After` says how many seconds to wait.",
}
# A wall-clock time as TimeField reads and writes it. JSON Schema's `time` format, which drf-spectacular would
# declare, is RFC 3339's full-time and requires a UTC offset; these are local times of day and have none.
WALL_CLOCK_TIME = r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$"


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self._generic_error_codes(operation):
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(error_response(GENERIC_ERRORS[code]), str(code))
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.TimeField) and schema.get("format") == "time":
            del schema["format"]
            schema.update(pattern=WALL_CLOCK_TIME, example="09:00:00")
        if isinstance(field, serializers.CharField) and field.allow_blank and schema.get("format") in ("email", "uri"):
            del schema["format"]  # "" is no email address or URI, and a blank field may hold it
        return schema

    def _generic_error_codes(self, operation: dict[str, Any]) -> list[int]:
        parameters = operation.get("parameters", [])
        codes = []
        # Any query parameter may carry what no parameter accepts (a NUL byte, refused before the view runs).
        if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
            codes.append(400)
        if "requestBody" in operation:
            codes.append(415)
        if not all(isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            codes += [401, 403]
        if any(p["in"] == "path" or p["name"] == "page" for p in parameters):
            codes.append(404)
        if self.method == "DELETE":  # configuration still referred to is protected (portal.core.api.exceptions)
            codes.append(409)
        if self.view.get_throttles():
            codes.append(429)
        return sorted(codes)
