"""The benchmark's floor view and headers exist only in bench mode (PORTAL_BENCH=1, set by `make bench`)."""

import os

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory

from portal.accounts.roles import Role
from portal.core.bench import QueryCountMiddleware

pytestmark = pytest.mark.django_db


def test_outside_bench_mode_there_is_no_floor_view_and_no_bench_header(token_client):
    client = token_client(Role.VIEWER)
    assert client.get("/api/v1/bench/floor/").status_code == 404
    headers = client.get("/api/v1/me/").headers
    assert "X-Bench-Queries" not in headers
    assert "X-Bench-Worker" not in headers


def test_bench_mode_counts_a_requests_queries_and_names_its_worker():
    def view(request):
        with connection.cursor() as cursor:
            for _ in range(3):
                cursor.execute("SELECT 1")
        return HttpResponse("ok")

    response = QueryCountMiddleware(view)(RequestFactory().get("/"))

    assert response["X-Bench-Queries"] == "3"
    assert response["X-Bench-Worker"] == str(os.getpid())
