"""Model-backed pickers read their choices in one plain query on PostgreSQL. Through QuerySet.iterator() they were
read with a server-side cursor held over autocommit (DECLARE ... WITH HOLD, FETCH, CLOSE): three round trips for a
handful of rows, on every page with a picker (settings: DISABLE_SERVER_SIDE_CURSORS)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.accounts.roles import Role

pytestmark = pytest.mark.integration


def test_the_incidents_filters_read_their_choices_without_a_cursor(db, client, make_user):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (set DATABASE_URL)"
    client.force_login(make_user(Role.VIEWER))
    with CaptureQueriesContext(connection) as ctx:
        page = client.get("/incidents/")
    assert page.status_code == 200
    assert '<option value="P1">' in page.content.decode()
    sql = [query["sql"] for query in ctx.captured_queries]
    assert [query for query in sql if 'FROM "incidents_severity"' in query and query.startswith("SELECT")] != []
    assert [query for query in sql if query.startswith("DECLARE")] == []
