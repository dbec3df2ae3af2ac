"""One JSON error shape for the API: {"detail": "...", "field": "...", "errors": {field: [messages]}}."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.db.models import Model, ProtectedError, RestrictedError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import ApplicationError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is unreachable (not a bug in a query): tell clients and monitors to come back later.
        return Response({"detail": "The database is unavailable; try again shortly."}, status=503)
    if isinstance(exc, ProtectedError | RestrictedError):
        return _still_referenced(exc)
    if isinstance(exc, ApplicationError):
        body: dict[str, object] = {"detail": exc.message, **exc.extra}
        if exc.field:
            body["field"] = exc.field
            body["errors"] = {exc.field: [exc.message]}
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(errors)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        first_field = next(iter(errors), None)
        first = errors.get(first_field) if first_field else None
        message = first[0] if isinstance(first, list) and first else str(first)
        summary = f"{first_field}: {message}" if first_field and first_field != "non_field_errors" else message
        response.data = {"detail": summary, "field": first_field, "errors": errors}
        response.status_code = status.HTTP_400_BAD_REQUEST
    return response


def _still_referenced(exc: ProtectedError | RestrictedError) -> Response:
    """A delete refused because other rows refer to what is deleted: 409, naming them (how many of each kind, the
    first few by name)."""
    referring = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
    by_kind: dict[str, list[Model]] = {}
    for obj in sorted(referring, key=lambda obj: (obj._meta.label, obj.pk)):
        by_kind.setdefault(str(obj._meta.verbose_name_plural), []).append(obj)
    parts = []
    for kind, objects in by_kind.items():
        shown = ", ".join(str(obj) for obj in objects[:3]) + (", ..." if len(objects) > 3 else "")
        name = kind if len(objects) > 1 else str(objects[0]._meta.verbose_name)
        parts.append(f"{len(objects)} {name} ({shown})")
    detail = f"Still referred to by {'; '.join(parts)}: remove or change those first."
    return Response({"detail": detail, "referenced_by": {kind: len(objects) for kind, objects in by_kind.items()}}, 409)
