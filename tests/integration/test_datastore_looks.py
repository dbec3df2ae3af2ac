"""Data stores, for real: Redis INFO (memory, hit ratio, clients, evictions), PostgreSQL connections by state, the
seeds' long-running-queries query, database size, pg_stat_statements when installed, terminating one backend by pid,
and VACUUM ANALYZE of a table, against the PostgreSQL and Redis on the machine."""

import uuid

import psycopg
import pytest
import redis
from django.db import connection

from portal.cluster.models import ActionRun, Look, Target
from portal.cluster.services import action_run_request, look_request
from portal.cluster.tasks import fetch_look
from portal.core.models import Environment
from tests.cluster.conftest import datastore
from tests.integration.test_cluster_actions import execute, lines

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("freeze_rules_off")]
REDIS_DB = 13  # a database of its own: never the broker's


def look(user, target, kind, **parameters) -> Look:
    requested = look_request(requester=user, target=target, kind=kind, parameters=parameters)
    fetch_look(requested.pk)
    requested.refresh_from_db()
    return requested


@pytest.fixture
def committed(django_db_serialized_rollback, transactional_db):
    """Committed rows, as another connection sees them; the role groups come back afterwards."""
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    yield
    connection.close()


@pytest.fixture
def pg(db) -> tuple[Target, str]:
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    settings = connection.settings_dict
    url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    return datastore(Target.Kind.POSTGRESQL, url, Environment.STAGING, slug="pg"), url


def test_redis_info_reads_memory_hit_ratio_clients_and_evictions(db, people):
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    key = f"itest-{uuid.uuid4().hex[:8]}"
    client.set(key, "x")
    client.get(key)
    client.get(f"{key}-missing")
    before = client.info("stats")
    target = datastore(Target.Kind.REDIS, url, Environment.STAGING, slug="cache")

    found = look(people.responder, target, "redis_info")

    client.delete(key)
    client.close()
    assert found.status == Look.Status.DONE, found.error
    values = dict(found.rows)
    hits, misses = before["keyspace_hits"], before["keyspace_misses"]
    shown = values["Hit ratio"]
    reported_hits = int(shown.split("(")[1].split(" hits")[0])
    assert reported_hits >= hits
    assert shown.split(" ")[0].endswith("%")
    assert int(shown.split("hits, ")[1].split(" misses")[0]) >= misses
    assert values["Clients"].endswith("blocked")
    assert values["Evicted keys"].isdigit()
    assert int(values["Keys in this database"]) >= 0
    assert found.summary.startswith(values["Memory used"] + " used, hit ratio ")
    assert found.command == f"redis-cli -h 127.0.0.1 -p 6379 -n {REDIS_DB} INFO"


class TestPostgres:
    def test_connections_by_state_and_the_seeds_long_running_queries(self, pg, people):
        target, url = pg
        busy = psycopg.connect(url, application_name="itest-busy")  # in a transaction: "idle in transaction"
        busy.execute("SELECT 42")

        connections = look(people.responder, target, "pg_connections")
        queries = look(people.responder, target, "pg_long_queries")

        assert connections.status == queries.status == Look.Status.DONE, (connections.error, queries.error)
        states = {row[0]: row[1] for row in connections.rows}
        assert states["idle in transaction"] >= 1
        assert "max_connections" in connections.summary
        assert queries.columns == ["pid", "usename", "datname", "state", "running_for", "query"]
        row = next(row for row in queries.rows if row[0] == busy.info.backend_pid)
        assert (row[3], row[5]) == ("idle in transaction", "SELECT 42")
        assert "WHERE state != 'idle'" in queries.command
        busy.close()

    def test_database_size_and_statements_when_installed(self, pg, people):
        target, url = pg
        size = look(people.responder, target, "pg_size")
        missing = look(people.responder, target, "pg_statements")

        assert size.status == Look.Status.DONE, size.error
        assert size.summary.startswith(f"{url.rsplit('/', 1)[1]} is ")
        assert size.columns[:2] == ["table", "total_size"]
        with psycopg.connect(url) as conn:
            tables = {name for (name,) in conn.execute("SELECT relname FROM pg_stat_user_tables")}
        assert "cluster_look" in tables
        assert {row[0] for row in size.rows} <= tables  # the largest 20 (which they are depends on the run so far)
        assert len(size.rows) == min(20, len(tables))
        assert (missing.status, missing.summary) == (Look.Status.DONE, f"pg_stat_statements is not installed in "
                                                                       f"{url.rsplit('/', 1)[1]}")  # fmt: skip
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            try:
                installed = look(people.responder, target, "pg_statements")
            finally:
                admin.execute("DROP EXTENSION pg_stat_statements")
        loaded = "pg_stat_statements" in str(
            psycopg.connect(url).execute("SHOW shared_preload_libraries").fetchone()
        )  # fmt: skip
        if loaded:
            assert installed.columns == ["calls", "total_ms", "mean_ms", "rows", "query"]
        else:
            assert installed.summary.startswith("pg_stat_statements is installed but not loaded")

    def test_terminate_one_backend_by_pid(self, pg, people):
        target, url = pg
        busy = psycopg.connect(url, application_name="itest-stuck")
        busy.execute("SELECT 1")
        pid = busy.info.backend_pid

        run = execute(action_run_request(requester=people.responder, target=target, kind="pg_terminate_backend",
                                         parameters={"pid": pid}, reason="stuck query", confirm=True))  # fmt: skip

        assert run.status == ActionRun.Status.SUCCEEDED, run.error
        assert lines(run)[1] == f"pid {pid} ({connection.settings_dict['USER']}, itest-stuck, idle in transaction): " \
                                "terminated"  # fmt: skip
        with pytest.raises(psycopg.OperationalError):
            busy.execute("SELECT 1")
        busy.close()
        again = execute(action_run_request(requester=people.responder, target=target, kind="pg_terminate_backend",
                                           parameters={"pid": pid}, reason="again", confirm=True))  # fmt: skip
        assert again.status == ActionRun.Status.FAILED
        assert f"No backend with pid {pid}" in again.error

    def test_vacuum_analyze_reclaims_dead_rows(self, committed, people):
        # Committed: the test's own open transaction would keep the deleted rows visible, so unremovable.
        settings = connection.settings_dict
        url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
        target = datastore(Target.Kind.POSTGRESQL, url, Environment.STAGING, slug="pg")
        table = f"itest_vacuum_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"CREATE TABLE {table} (id int)")
            admin.execute(f"INSERT INTO {table} SELECT generate_series(1, 1000)")
            admin.execute(f"DELETE FROM {table} WHERE id <= 600")  # noqa: S608 - a name made above
            # Statistics reach other backends at most once a second unless a flush is forced (PostgreSQL 15+).
            admin.execute("SELECT pg_stat_force_next_flush()")
            admin.execute("SELECT 1")
            try:
                requested = action_run_request(requester=people.responder, target=target, kind="pg_vacuum_analyze",
                                               parameters={"table": table}, reason="bloat", confirm=True)  # fmt: skip
                run = execute(requested)
                analysed = admin.execute(
                    "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                    "WHERE relname = %s", [table],
                ).fetchone()  # fmt: skip
            finally:
                admin.execute(f"DROP TABLE {table}")

        assert run.status == ActionRun.Status.SUCCEEDED, run.error
        assert (run.before["dead_rows"], run.after["dead_rows"]) == (600, 0)
        assert run.command.endswith(f"VACUUM (ANALYZE) {table};")
        assert analysed == (True, True)

    def test_vacuum_of_a_table_that_does_not_exist_fails_saying_so(self, pg, people):
        target, _ = pg
        run = execute(action_run_request(requester=people.responder, target=target, kind="pg_vacuum_analyze",
                                         parameters={"table": "public.nope"}, reason="r", confirm=True))  # fmt: skip
        assert run.status == ActionRun.Status.FAILED
        assert "There is no table 'public.nope'" in run.error
