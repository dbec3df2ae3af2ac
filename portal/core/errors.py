"""Django's own error answers (400, 403, 404, 500) in the API's JSON shape, {"detail": ...}, under /api/; the usual
pages elsewhere. DRF answers the errors it handles itself; these are the ones it never sees: an unknown URL, a body
over the size limit, an exception no handler turned into a response."""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def api_error(status: int, detail: str, *, field: str | None = None) -> JsonResponse:
    body: dict[str, object] = {"detail": detail}
    if field:
        body |= {"field": field, "errors": {field: [detail]}}
    return JsonResponse(body, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return api_error(400, "The request body is too large.")
    return api_error(400, "Bad request.")


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.permission_denied(request, exception)
    return api_error(403, "You do not have permission to perform this action.")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return api_error(404, "Not found.")


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api(request):
        return defaults.server_error(request)
    return api_error(500, "Server error: it has been logged.")
