"""Bench mode (PORTAL_BENCH=1, set only by `make bench`): the floor every benchmark target is compared with, and a
response header counting each request's queries. Never enabled in production: neither is routed or installed
without the setting."""

from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

QUERIES_HEADER = "X-Bench-Queries"


class FloorApi(APIView):
    """The least any API request costs: the API's token authentication and permission (the REST_FRAMEWORK defaults)
    and nothing else, so a target's ratio to it is what the target's own work adds."""

    throttle_classes = ()

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class QueryCountMiddleware:
    """Counts the queries a request makes at the cursor (DEBUG stays off, as in production)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        count = 0

        def counted(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            response = self.get_response(request)
        response[QUERIES_HEADER] = str(count)
        return response
