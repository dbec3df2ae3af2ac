"""Redis and PostgreSQL actions on a target's URL. Each opens its own connection and closes it when done.

The URL is a secret: errors that leave here are scrubbed of its password, and nothing here logs it.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import psycopg
import psycopg.sql
import redis
from django.conf import settings

from portal.cluster.secrets import mask_url, scrub

REDIS_SCHEMES = frozenset({"redis", "rediss"})
POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
TIMEOUT_SECONDS = 10


class DataStoreError(Exception):
    """A data-store action failed or was refused; the message is safe to show and store."""


@dataclass(frozen=True)
class RedisLocation:
    host: str
    port: int
    db: int
    tls: bool

    @property
    def same_server_as(self) -> tuple[str, int, int]:
        """Host, port and database, with every loopback spelling as one host."""
        return ("loopback" if self.host in LOOPBACK else self.host, self.port, self.db)


def redis_location(url: str) -> RedisLocation:
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES or not parts.hostname:
        raise DataStoreError("A Redis URL looks like redis://[:password@]host[:port][/db] (or rediss:// for TLS).")
    try:
        port = parts.port or 6379
        path_db = parts.path.strip("/")
        db = int(path_db or parse_qs(parts.query).get("db", ["0"])[0])
    except ValueError as exc:
        raise DataStoreError("The Redis URL's port and database must be numbers.") from exc
    return RedisLocation(parts.hostname.lower(), port, db, parts.scheme == "rediss")


def is_broker_database(url: str) -> bool:
    """Whether this Redis database is (one of) the portal's Celery broker's: flushing it would lose queued work."""
    target = redis_location(url).same_server_as
    for broker in settings.CELERY_BROKER_URL.split(";"):
        if urlsplit(broker.strip()).scheme in REDIS_SCHEMES and redis_location(broker.strip()).same_server_as == target:
            return True
    return False


def url_errors(kind: str, url: str) -> str | None:
    """What is wrong with a target URL of this kind, if anything."""
    try:
        if kind == "redis":
            redis_location(url)
            if is_broker_database(url):
                return "This is the portal's own broker database (CELERY_BROKER_URL); actions never touch it."
        elif kind == "postgresql":
            parts = urlsplit(url)
            if parts.scheme not in POSTGRES_SCHEMES or not parts.hostname or not parts.path.strip("/"):
                return "A PostgreSQL URL looks like postgres://user[:password]@host[:port]/database."
    except DataStoreError as exc:
        return str(exc)
    return None


# -- Redis -------------------------------------------------------------------------------------------------------


def _redis(url: str) -> redis.Redis:
    if is_broker_database(url):
        raise DataStoreError(
            f"Refused: {mask_url(url)} is the portal's own broker database (CELERY_BROKER_URL); clearing it would "
            "lose queued work."
        )
    return redis.Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS)


def _redis_errors(url: str, exc: redis.RedisError) -> DataStoreError:
    return DataStoreError(f"Redis {mask_url(url)}: {scrub(str(exc), url)}")


@dataclass(frozen=True)
class FlushResult:
    keys_before: int
    keys_after: int


def redis_flush(url: str) -> FlushResult:
    """FLUSHDB: every key of the URL's database, and only that database."""
    client = _redis(url)
    try:
        before = int(client.dbsize())
        client.flushdb()
        return FlushResult(before, int(client.dbsize()))
    except redis.RedisError as exc:
        raise _redis_errors(url, exc) from exc
    finally:
        client.close()


def redis_delete_pattern(url: str, pattern: str, *, batch_size: int, on_batch: Callable[[int, int], None]) -> int:
    """Delete the keys matching `pattern`, found with SCAN (never KEYS, which blocks the server) and unlinked one
    batch at a time. `on_batch(deleted_in_batch, deleted_so_far)` reports each batch. Returns how many went."""
    client = _redis(url)
    deleted, cursor = 0, 0
    try:
        while True:
            cursor, keys = client.scan(cursor=cursor, match=pattern, count=batch_size)
            if keys:
                # A key may expire between SCAN and UNLINK: count what Redis says it removed.
                removed = int(client.unlink(*keys))
                deleted += removed
                on_batch(removed, deleted)
            if cursor == 0:
                return deleted
    except redis.RedisError as exc:
        raise _redis_errors(url, exc) from exc
    finally:
        client.close()


def _redis_cli(url: str) -> str:
    location = redis_location(url)
    tls = " --tls" if location.tls else ""
    return f"redis-cli -h {location.host} -p {location.port} -n {location.db}{tls}"


def redis_flush_command(url: str) -> str:
    return f"{_redis_cli(url)} FLUSHDB"


def redis_delete_pattern_command(url: str, pattern: str, *, batch_size: int) -> str:
    cli = _redis_cli(url)
    quoted = "'" + pattern.replace("'", "'\\''") + "'"
    return f"{cli} --scan --pattern {quoted} --count {batch_size} | xargs -r -n {batch_size} {cli} UNLINK"


# -- PostgreSQL --------------------------------------------------------------------------------------------------

# The seeds' runbook query, held to the target database, never this connection or the portal's own (which it
# names with DATABASE_APPLICATION_NAME), and only client backends (not autovacuum or replication).
TERMINATE_IDLE_SQL = """\
SELECT pid, usename, application_name, host(client_addr), state_change, pg_terminate_backend(pid)
FROM pg_stat_activity
WHERE datname = current_database()
  AND pid <> pg_backend_pid()
  AND backend_type = 'client backend'
  AND state = 'idle'
  AND state_change < now() - make_interval(mins => {minutes})
  AND application_name <> {portal}
ORDER BY pid"""


@dataclass(frozen=True)
class TerminatedConnection:
    pid: int
    user: str
    application: str
    client: str
    idle_since: datetime
    terminated: bool


def pg_terminate_idle(url: str, *, idle_minutes: int) -> list[TerminatedConnection]:
    """Terminate connections to the URL's database idle for more than `idle_minutes`; each row says whether
    PostgreSQL terminated it (false: no permission, or it had already gone)."""
    query = TERMINATE_IDLE_SQL.format(minutes="%(minutes)s", portal="%(portal)s")
    try:
        with _connect(url) as connection:
            rows = connection.execute(
                query, {"minutes": idle_minutes, "portal": settings.DATABASE_APPLICATION_NAME}
            ).fetchall()
    except psycopg.Error as exc:
        raise _pg_error(url, exc) from exc
    return [
        TerminatedConnection(pid, user or "", application or "", client or "local", since, bool(terminated))
        for pid, user, application, client, since, terminated in rows
    ]


# The seeds' `pg_terminate_backend(<pid>)`, held like the idle one to the target database and never the portal's own.
TERMINATE_BACKEND_SQL = """\
SELECT pid, usename, application_name, state, left(query, 200), pg_terminate_backend(pid)
FROM pg_stat_activity
WHERE pid = {pid}
  AND datname = current_database()
  AND pid <> pg_backend_pid()
  AND application_name <> {portal}"""
# Unquoted identifiers only: what a person types, and nothing that needs quoting to be safe.
TABLE_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}$")
VACUUM_TIMEOUT_SECONDS = 540  # under the action task's soft limit


@dataclass(frozen=True)
class TerminatedBackend:
    pid: int
    user: str
    application: str
    state: str
    query: str
    terminated: bool


def pg_terminate_backend(url: str, *, pid: int) -> TerminatedBackend:
    """Terminate one backend of the URL's database; refused for another database's, this portal's, or none."""
    query = TERMINATE_BACKEND_SQL.format(pid="%(pid)s", portal="%(portal)s")
    try:
        with _connect(url) as connection:
            row = connection.execute(query, {"pid": pid, "portal": settings.DATABASE_APPLICATION_NAME}).fetchone()
    except psycopg.Error as exc:
        raise _pg_error(url, exc) from exc
    if row is None:
        raise DataStoreError(
            f"No backend with pid {pid} is connected to {database_name(url)} (it ended, belongs to another database, "
            "or is this portal's own)."
        )
    found_pid, user, application, state, text, terminated = row
    return TerminatedBackend(found_pid, user or "", application or "", state or "", text or "", bool(terminated))


def pg_terminate_backend_command(url: str, *, pid: int) -> str:
    sql = TERMINATE_BACKEND_SQL.format(pid=pid, portal=_sql_literal(settings.DATABASE_APPLICATION_NAME))
    return f"-- on {mask_url(url)}\n{sql};"


@dataclass(frozen=True)
class Vacuumed:
    table: str
    dead_rows_before: int
    dead_rows_after: int
    size_before: str
    size_after: str


_TABLE_STATS = """\
SELECT coalesce(n_dead_tup, 0), pg_size_pretty(pg_total_relation_size(c.oid))
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = %(table)s::regclass"""


def pg_vacuum_analyze(url: str, table: str) -> Vacuumed:
    """VACUUM ANALYZE one table (outside a transaction, as VACUUM must run), with its dead rows before and after."""
    if not TABLE_NAME.match(table):
        raise DataStoreError(f"{table!r} is not a table name.")
    try:
        with _connect(url, statement_seconds=VACUUM_TIMEOUT_SECONDS) as connection:
            if connection.execute("SELECT to_regclass(%(table)s)", {"table": table}).fetchone() == (None,):
                raise DataStoreError(f"There is no table {table!r} in {database_name(url)}.")
            before = connection.execute(_TABLE_STATS, {"table": table}).fetchone() or (0, "")
            # Unquoted names fold to lower case, as to_regclass read them.
            identifier = psycopg.sql.Identifier(*table.lower().split("."))
            connection.execute(psycopg.sql.SQL("VACUUM (ANALYZE) {}").format(identifier))
            after = connection.execute(_TABLE_STATS, {"table": table}).fetchone() or (0, "")
    except psycopg.Error as exc:
        raise _pg_error(url, exc) from exc
    return Vacuumed(table, int(before[0]), int(after[0]), str(before[1]), str(after[1]))


def pg_vacuum_analyze_command(url: str, table: str) -> str:
    return f"-- on {mask_url(url)}\nVACUUM (ANALYZE) {table};"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def pg_terminate_idle_command(url: str, *, idle_minutes: int) -> str:
    sql = TERMINATE_IDLE_SQL.format(minutes=idle_minutes, portal=_sql_literal(settings.DATABASE_APPLICATION_NAME))
    return f"-- on {mask_url(url)}\n{sql};"


def database_name(url: str) -> str:
    return re.sub(r"^/", "", urlsplit(url).path)


# -- looking -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisInfo:
    """What `redis-cli INFO` says about memory, the cache's hit ratio, clients and evictions."""

    version: str
    uptime_seconds: int
    used_memory_human: str
    maxmemory_human: str
    maxmemory_policy: str
    connected_clients: int
    blocked_clients: int
    keyspace_hits: int
    keyspace_misses: int
    evicted_keys: int
    expired_keys: int
    ops_per_sec: int
    keys: int

    @property
    def hit_ratio(self) -> float | None:
        """Hits over lookups since the server started (or its stats were reset): what the cache-hit SLO reads."""
        lookups = self.keyspace_hits + self.keyspace_misses
        return self.keyspace_hits / lookups if lookups else None

    def _ratio(self) -> str:
        return "no lookups yet" if self.hit_ratio is None else f"{self.hit_ratio:.1%}"

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("Version", self.version),
            ("Uptime", f"{self.uptime_seconds // 86400} d {self.uptime_seconds % 86400 // 3600} h"),
            ("Memory used", self.used_memory_human),
            ("Memory limit", f"{self.maxmemory_human or 'none'} ({self.maxmemory_policy})"),
            ("Hit ratio", f"{self._ratio()} ({self.keyspace_hits} hits, {self.keyspace_misses} misses)"),
            ("Clients", f"{self.connected_clients} connected, {self.blocked_clients} blocked"),
            ("Evicted keys", str(self.evicted_keys)),
            ("Expired keys", str(self.expired_keys)),
            ("Operations per second", str(self.ops_per_sec)),
            ("Keys in this database", str(self.keys)),
        ]

    def summary(self) -> str:
        return (
            f"{self.used_memory_human} used, hit ratio {self._ratio()}, {self.connected_clients} clients, "
            f"{self.evicted_keys} evicted"
        )


def redis_info(url: str) -> RedisInfo:
    client = _redis(url)
    try:
        info = client.info()
        keys = int(client.dbsize())
    except redis.RedisError as exc:
        raise _redis_errors(url, exc) from exc
    finally:
        client.close()
    maxmemory = int(info.get("maxmemory", 0))
    return RedisInfo(
        version=str(info.get("redis_version", "")),
        uptime_seconds=int(info.get("uptime_in_seconds", 0)),
        used_memory_human=str(info.get("used_memory_human", "")),
        maxmemory_human=str(info.get("maxmemory_human", "")) if maxmemory else "",
        maxmemory_policy=str(info.get("maxmemory_policy", "")),
        connected_clients=int(info.get("connected_clients", 0)),
        blocked_clients=int(info.get("blocked_clients", 0)),
        keyspace_hits=int(info.get("keyspace_hits", 0)),
        keyspace_misses=int(info.get("keyspace_misses", 0)),
        evicted_keys=int(info.get("evicted_keys", 0)),
        expired_keys=int(info.get("expired_keys", 0)),
        ops_per_sec=int(info.get("instantaneous_ops_per_sec", 0)),
        keys=keys,
    )


def redis_info_command(url: str) -> str:
    return f"{_redis_cli(url)} INFO"


# What each PostgreSQL look asks, in the words of the seeds' runbook where it has them. %(name)s are parameters.
PG_LOOKS = {
    "pg_connections": """\
SELECT coalesce(state, backend_type) AS state, count(*) AS connections,
       max(now() - state_change) AS longest_in_state
FROM pg_stat_activity
WHERE datname = current_database()
GROUP BY 1
ORDER BY 2 DESC""",
    # The seeds' long-running-queries query, without this connection and with a threshold.
    "pg_long_queries": """\
SELECT pid, usename, datname, state, age(now(), query_start) AS running_for, left(query, 500) AS query
FROM pg_stat_activity
WHERE state != 'idle'
  AND pid <> pg_backend_pid()
  AND query_start < now() - make_interval(secs => %(min_seconds)s)
ORDER BY query_start
LIMIT 100""",
    "pg_size": """\
SELECT relname AS "table", pg_size_pretty(pg_total_relation_size(relid)) AS total_size,
       n_live_tup AS live_rows, n_dead_tup AS dead_rows, last_autovacuum, last_analyze
FROM pg_stat_user_tables
ORDER BY pg_total_relation_size(relid) DESC
LIMIT 20""",
    "pg_statements": """\
SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 1) AS mean_ms,
       rows, left(query, 500) AS query
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY mean_exec_time DESC
LIMIT %(limit)s""",
}


@dataclass(frozen=True)
class Table:
    summary: str
    columns: list[str]
    rows: list[list[object]]
    truncated: bool = False


def _connect(url: str, *, statement_seconds: int = TIMEOUT_SECONDS) -> psycopg.Connection:
    return psycopg.connect(
        url,
        autocommit=True,
        connect_timeout=TIMEOUT_SECONDS,
        application_name=settings.DATABASE_APPLICATION_NAME,
        options=f"-c statement_timeout={statement_seconds * 1000}",
    )


def _pg_error(url: str, exc: psycopg.Error) -> DataStoreError:
    return DataStoreError(f"PostgreSQL {mask_url(url)}: {scrub(str(exc).strip(), url)}")


def _shown(value: object) -> object:
    """JSON-safe cells: numbers and text as they are, intervals, instants and decimals as text."""
    return value if value is None or isinstance(value, int | float | str) else str(value)


def pg_look(url: str, kind: str, parameters: Mapping[str, object]) -> Table:
    """Run one of the read-only PG_LOOKS on the URL's database."""
    try:
        with _connect(url) as connection:
            if kind == "pg_statements":
                installed = connection.execute(
                    "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
                ).fetchone()
                if installed is None:
                    return Table(f"pg_stat_statements is not installed in {database_name(url)}", [], [])
            cursor = connection.execute(PG_LOOKS[kind], dict(parameters))
            columns = [column.name for column in cursor.description or []]
            rows = [[_shown(value) for value in row] for row in cursor.fetchall()]
            if kind == "pg_connections":
                total, limit = connection.execute(
                    "SELECT (SELECT count(*) FROM pg_stat_activity), current_setting('max_connections')::int"
                ).fetchone() or (0, 0)
            elif kind == "pg_size":
                size = connection.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
    except psycopg.errors.ObjectNotInPrerequisiteState as exc:
        # Installed but not in shared_preload_libraries: the view exists and refuses to answer.
        return Table(f"pg_stat_statements is installed but not loaded: {scrub(str(exc).strip(), url)}", [], [])
    except psycopg.Error as exc:
        raise _pg_error(url, exc) from exc
    database = database_name(url)
    if kind == "pg_connections":
        mine = sum(int(str(row[1])) for row in rows)
        summary = f"{mine} connections to {database} ({total} on the server, max_connections {limit})"
    elif kind == "pg_long_queries":
        summary = f"{len(rows)} queries not idle for more than {parameters['min_seconds']} s"
    elif kind == "pg_size":
        summary = f"{database} is {size[0] if size else 'of unknown size'}; {len(rows)} largest tables listed"
    else:
        summary = f"{len(rows)} slowest statements by mean time in {database}"
    return Table(summary, columns, rows, truncated=len(rows) >= 100)


def pg_look_command(url: str, kind: str, parameters: Mapping[str, object]) -> str:
    sql = PG_LOOKS[kind]
    for name, value in parameters.items():
        sql = sql.replace(f"%({name})s", str(int(str(value))))
    if kind == "pg_size":
        sql = f"SELECT pg_size_pretty(pg_database_size(current_database()));\n{sql}"
    return f"-- on {mask_url(url)}\n{sql};"
