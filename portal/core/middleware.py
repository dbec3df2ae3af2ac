from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.views import defaults

from portal.core.errors import api_error, is_api

NUL_MESSAGE = "Must not contain NUL characters."


class RefuseNulMiddleware:
    """A NUL character in the URL or a query parameter is a 400 before any view runs: no lookup could match it, and
    PostgreSQL refuses to compare with it (a 500 from whichever lookup met it first). Bodies: portal.core.api.parsers
    and Django's form fields."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if field := self._nul_in(request):
            if is_api(request):
                return api_error(400, f"{field}: {NUL_MESSAGE}", field=field)
            return defaults.bad_request(request, BadRequest(NUL_MESSAGE))
        return self.get_response(request)

    @staticmethod
    def _nul_in(request: HttpRequest) -> str | None:
        if "\x00" in request.path:
            return "path"
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return key
        return None
