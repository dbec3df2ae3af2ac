"""Role checks for DRF views and HTML views; both go through `roles.has_role`."""

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from portal.accounts.roles import Role, has_role

if TYPE_CHECKING:  # rest_framework.views imports the permission settings: a runtime import would be circular
    from rest_framework.views import APIView


def role_permission(role: Role) -> type[BasePermission]:
    """A DRF permission class requiring `role` (or higher): `permission_classes = [role_permission(Role.ADMIN)]`."""

    class HasRole(BasePermission):
        message = f"This requires the {role.value} role."

        def has_permission(self, request: Request, view: "APIView") -> bool:
            return has_role(request.user, role)

    HasRole.__name__ = f"Has{role.name.title().replace('_', '')}Role"
    return HasRole


# The API's default: any signed-in (or token-bearing) user with a portal role.
IsViewer = role_permission(Role.VIEWER)


def role_required(role: Role) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """View decorator: 403 unless the signed-in user holds `role` (login itself is enforced by middleware)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request.user, role):
                raise PermissionDenied(f"This page requires the {role.value} role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def writes_need(role: Role) -> type[BasePermission]:
    """Viewers read; writing needs `role`."""

    class ReadOrRole(BasePermission):
        message = f"Changing this requires the {role.value} role."

        def has_permission(self, request: Request, view: "APIView") -> bool:
            needed = Role.VIEWER if request.method in SAFE_METHODS else role
            return has_role(request.user, needed)

    ReadOrRole.__name__ = f"ReadOr{role.name.title().replace('_', '')}"
    return ReadOrRole
