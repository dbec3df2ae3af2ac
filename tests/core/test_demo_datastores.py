"""The demo's data stores: databases of their own on the machine's PostgreSQL and Redis when the portal runs on them,
otherwise targets shown as not configured; repeating the command changes nothing."""

import io
import os

import psycopg
import pytest
import redis
from django.core.management import call_command
from django.db import connection

from incidents.models import Service
from portal.cluster.models import Look, Target, Workload
from portal.cluster.services import look_request
from portal.cluster.tasks import fetch_look
from portal.core.management.commands.demo_datastores import _portal_url
from portal.core.models import Environment


@pytest.fixture
def services(db):
    for slug in ("api", "redis", "database"):
        Service.objects.get_or_create(slug=slug, defaults={"name": slug.title()})


def run() -> str:
    out = io.StringIO()
    call_command("demo_datastores", "--redis-db", "13", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_without_a_redis_broker_the_cache_is_shown_as_not_configured(services, settings):
    settings.CELERY_BROKER_URL = "filesystem://"

    output = run()
    run()

    cache = Target.objects.get(slug="demo-redis")
    assert (cache.enabled, cache.url, cache.environment) == (False, "", Environment.PRODUCTION)
    assert cache.description.startswith("Not configured: run the portal with a redis:// CELERY_BROKER_URL")
    assert "Demo cache (Redis): not configured" in output
    assert Workload.objects.filter(target=cache).count() == 2, "redis and api, once each"


@pytest.mark.integration
def test_on_postgresql_and_redis_the_demo_gets_databases_of_its_own(services, settings, make_user):
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    settings.CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    demo_db = f"{connection.settings_dict['NAME']}_demo_shop"
    responder = make_user("Responder")
    try:
        run()
        run()  # again: nothing new, no error
        shop = Target.objects.get(slug="demo-postgres")
        cache = Target.objects.get(slug="demo-redis")
        assert shop.enabled
        assert shop.url.endswith(f"/{demo_db}")
        assert cache.enabled
        assert cache.url.endswith("/13")

        size = look_request(requester=responder, target=shop, kind="pg_size", parameters={})
        fetch_look(size.pk)
        size.refresh_from_db()
        assert size.status == Look.Status.DONE, size.error
        orders = next(row for row in size.rows if row[0] == "orders")
        assert orders[3] > 0, "dead rows for VACUUM ANALYZE to reclaim"
    finally:
        client = redis.Redis.from_url("redis://127.0.0.1:6379/13")
        client.delete(*[f"session:demo-{n}" for n in range(1, 51)], "cache:products:top")
        client.close()
        with psycopg.connect(_portal_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{demo_db}" WITH (FORCE)')
