"""The demo's Redis and PostgreSQL targets (`make run` runs this after seed_demo), so every seeded quick action has
something to act on.

When the portal runs on PostgreSQL (DATABASE_URL) and a Redis broker, the demo gets databases of its own on those
servers: `<portal database>_demo_shop`, with an `orders` table carrying some dead rows for VACUUM, and a Redis
database other than the broker's, with a few cache keys. Otherwise both targets are there, disabled, saying how to
configure them. Safe to repeat; it never touches the portal's own databases.
"""

from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import psycopg.sql
import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from incidents.models import Service
from portal.cluster.models import Target, Workload
from portal.core.models import Environment

# Which demo services each data store serves: their incidents offer its looks and actions.
SERVICES = {Target.Kind.REDIS: ["redis", "api"], Target.Kind.POSTGRESQL: ["database", "api"]}
NOT_CONFIGURED = {
    Target.Kind.REDIS: "Not configured: run the portal with a redis:// CELERY_BROKER_URL and the demo gets a Redis "
    "database of its own on that server.",
    Target.Kind.POSTGRESQL: "Not configured: run the portal on PostgreSQL (DATABASE_URL) and the demo gets a "
    "database of its own on that server.",
}


def _redis_url(redis_db: int) -> str | None:
    """A database of the broker's Redis server other than the broker's own."""
    broker = urlsplit(settings.CELERY_BROKER_URL.split(";")[0].strip())
    if broker.scheme not in ("redis", "rediss"):
        return None
    broker_db = int(broker.path.strip("/") or 0)
    db = redis_db if redis_db != broker_db else (redis_db + 1) % 16
    return urlunsplit((broker.scheme, broker.netloc, f"/{db}", "", ""))


def _portal_url(database: str = "") -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{database or db['NAME']}"


def _postgres_url() -> str | None:
    """A database of its own beside the portal's, on the same server and with the same credentials."""
    if connection.vendor != "postgresql":
        return None
    return _portal_url(f"{connection.settings_dict['NAME']}_demo_shop")


def _prepare_postgres(url: str) -> None:
    """Create the demo database if missing, with an `orders` table and dead rows for VACUUM ANALYZE to reclaim."""
    name = urlsplit(url).path.strip("/")
    with psycopg.connect(_portal_url(), autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            admin.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    with psycopg.connect(url, autocommit=True) as shop:
        shop.execute(
            "CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, customer int NOT NULL, total numeric(10, 2) "
            "NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )
        if shop.execute("SELECT count(*) FROM orders").fetchone() == (0,):
            shop.execute(
                "INSERT INTO orders (customer, total, status) SELECT n % 997, (n % 500) + 9.99, "
                "(ARRAY['paid', 'shipped', 'delivered', 'refunded'])[n % 4 + 1] FROM generate_series(1, 5000) n"
            )
            shop.execute("DELETE FROM orders WHERE status = 'refunded'")  # dead rows for VACUUM


def _prepare_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        for number in range(1, 51):
            client.set(f"session:demo-{number}", "{}", ex=24 * 3600, nx=True)
        client.set("cache:products:top", "[]", nx=True)
    finally:
        client.close()


class Command(BaseCommand):
    help = "Add the demo's Redis and PostgreSQL targets: databases of their own, or shown as not configured."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--redis-db", type=int, default=15, help="The demo's Redis database (not the broker's).")

    def handle(self, *args: object, **options: object) -> None:
        found = {
            Target.Kind.REDIS: ("demo-redis", "Demo cache (Redis)", _redis_url(int(str(options["redis_db"])))),
            Target.Kind.POSTGRESQL: ("demo-postgres", "Demo shop database (PostgreSQL)", _postgres_url()),
        }
        for kind, (slug, name, url) in found.items():
            description = NOT_CONFIGURED[kind]
            if url is not None:
                try:
                    (_prepare_redis if kind == Target.Kind.REDIS else _prepare_postgres)(url)
                except (redis.RedisError, psycopg.Error) as exc:
                    self.stderr.write(f"{name}: not prepared ({type(exc).__name__}); left not configured.")
                    url = None
                else:
                    description = f"A database of its own for the demo, beside the portal's ({kind.label})."
            target, _ = Target.objects.update_or_create(
                slug=slug,
                defaults={
                    "name": name, "kind": kind, "environment": Environment.PRODUCTION, "url": url or "",
                    "enabled": url is not None, "description": description,
                },
            )  # fmt: skip
            for service in Service.objects.filter(slug__in=SERVICES[kind]):
                Workload.objects.get_or_create(service=service, target=target, namespace=None, deployment="")
            state = target.url_masked if url else "not configured"
            self.stdout.write(f"{name}: {state}")
