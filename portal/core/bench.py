"""Bench mode (PORTAL_BENCH=1, set only by `make bench`): the floor every benchmark target is compared with, and
response headers counting each request's queries and naming the worker process that served it. Never enabled in
production: neither is routed or installed without the setting."""

import os
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

QUERIES_HEADER = "X-Bench-Queries"
WORKER_HEADER = "X-Bench-Worker"


class FloorApi(APIView):
    """The least any API request costs: the API's token authentication and permission (the REST_FRAMEWORK defaults)
    and nothing else, so a target's ratio to it is what the target's own work adds."""

    throttle_classes = ()

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class QueryCountMiddleware:
    """Counts the queries a request makes at the cursor (DEBUG stays off, as in production), and names the worker
    (its process id), so the bench can hold one connection to each."""

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
        response[WORKER_HEADER] = str(os.getpid())
        return response
