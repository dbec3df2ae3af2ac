from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render, resolve_url
from django_htmx.http import HttpResponseClientRedirect
from rest_framework.views import APIView

from portal.accounts.roles import Role, has_role


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Every page needs a signed-in user holding at least the Viewer role, unless marked `@login_not_required`.

    DRF views are left to DRF, which also accepts API tokens and applies the same Viewer default.
    """

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponseBase | None:
        view_class = getattr(view_func, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, APIView):
            return None
        if not getattr(view_func, "login_required", True):
            return None
        if not request.user.is_authenticated:
            return self.handle_no_permission(request, view_func)
        if not has_role(request.user, Role.VIEWER):
            return render(request, "accounts/no_role.html", status=403)
        return None

    def handle_no_permission(self, request: HttpRequest, view_func: Callable[..., Any]) -> HttpResponseBase:
        """An htmx request (a page polling itself after the session ended) sends the whole page to the sign-in,
        back to that page afterwards, instead of swapping the sign-in form into part of it."""
        current = getattr(request, "htmx", None) and request.htmx.current_url_abs_path
        if not current:
            return super().handle_no_permission(request, view_func)
        login = redirect_to_login(current, resolve_url(self.get_login_url(view_func)), self.redirect_field_name)
        return HttpResponseClientRedirect(login.url)
