"""Redis and PostgreSQL actions on a target's URL. Each opens its own connection and closes it when done.

The URL is a secret: errors that leave here are scrubbed of its password, and nothing here logs it.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import psycopg
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
        with psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=TIMEOUT_SECONDS,
            application_name=settings.DATABASE_APPLICATION_NAME,
            options=f"-c statement_timeout={TIMEOUT_SECONDS * 1000}",
        ) as connection:
            rows = connection.execute(
                query, {"minutes": idle_minutes, "portal": settings.DATABASE_APPLICATION_NAME}
            ).fetchall()
    except psycopg.Error as exc:
        raise DataStoreError(f"PostgreSQL {mask_url(url)}: {scrub(str(exc).strip(), url)}") from exc
    return [
        TerminatedConnection(pid, user or "", application or "", client or "local", since, bool(terminated))
        for pid, user, application, client, since, terminated in rows
    ]


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def pg_terminate_idle_command(url: str, *, idle_minutes: int) -> str:
    sql = TERMINATE_IDLE_SQL.format(minutes=idle_minutes, portal=_sql_literal(settings.DATABASE_APPLICATION_NAME))
    return f"-- on {mask_url(url)}\n{sql};"


def database_name(url: str) -> str:
    return re.sub(r"^/", "", urlsplit(url).path)
