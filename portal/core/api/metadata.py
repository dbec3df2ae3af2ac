"""OPTIONS answers: what each write accepts."""

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request, clone_request

if TYPE_CHECKING:  # DRF loads this class while rest_framework.views is still importing
    from rest_framework.views import APIView


class InputMetadata(SimpleMetadata):
    """Describe a write by the input serializer the schema documents (`extend_schema(request=...)`), not by the
    output serializer a generic view is built on; a view without one keeps DRF's answer."""

    def determine_metadata(self, request: Request, view: "APIView") -> dict[str, object]:
        metadata = super().determine_metadata(request, view)
        # DRF describes writes only for generic views (they have get_serializer); plain ones document theirs too.
        if "actions" not in metadata and (actions := self.determine_actions(request, view)):
            metadata["actions"] = actions
        return metadata

    def determine_actions(self, request: Request, view: "APIView") -> dict[str, object]:
        actions = {}
        for method in ("POST", "PUT", "PATCH"):
            if method not in view.allowed_methods:
                continue
            view.request = clone_request(request, method)
            try:
                view.check_permissions(view.request)
                serializer = _input_serializer(view, method)
            except (exceptions.APIException, PermissionDenied, Http404):
                continue
            finally:
                view.request = request
            if serializer is not None:
                actions[method] = self.get_serializer_info(serializer)
        return actions


def _input_serializer(view: "APIView", method: str) -> serializers.BaseSerializer | None:
    handler = getattr(view, getattr(view, "action_map", {}).get(method.lower(), method.lower()), None)
    # @extend_schema leaves its schema class on the handler; it knows the documented request serializer.
    schema_class = getattr(handler, "kwargs", {}).get("schema")
    documented = None
    if schema_class is not None:
        schema = schema_class()
        schema.view, schema.method, schema.path = view, method, view.request.path
        documented = schema.get_request_serializer()
    if isinstance(documented, type) and issubclass(documented, serializers.BaseSerializer):
        return documented()
    if isinstance(documented, serializers.BaseSerializer):
        return documented
    get_serializer = getattr(view, "get_serializer", None)
    return get_serializer() if get_serializer is not None else None
