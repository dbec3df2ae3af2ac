"""The benchmark's floor view and query header exist only in bench mode (PORTAL_BENCH=1, set by `make bench`)."""

import pytest

from portal.accounts.roles import Role

pytestmark = pytest.mark.django_db


def test_outside_bench_mode_there_is_no_floor_view_and_no_query_header(token_client):
    client = token_client(Role.VIEWER)
    assert client.get("/api/v1/bench/floor/").status_code == 404
    assert "X-Bench-Queries" not in client.get("/api/v1/me/").headers
