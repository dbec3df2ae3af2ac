"""API throttle counters in Redis, as production keeps them: shared by every web process, not counted per process."""

import uuid

import pytest
import redis
from django.core.cache import caches
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from tests.core.test_throttling import rates

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_cache(settings):
    """The Redis cache portal.settings picks for a redis:// broker, under a key prefix of its own (clearing the
    cache would flush the broker's database)."""
    prefix = f"test-{uuid.uuid4().hex}"
    cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": settings.CELERY_BROKER_URL}
    with override_settings(CACHES={"default": cache | {"KEY_PREFIX": prefix}}):
        yield redis.Redis.from_url(settings.CELERY_BROKER_URL), prefix
    server = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for key in server.scan_iter(f"{prefix}:*"):
        server.delete(key)


@pytest.mark.django_db
def test_throttle_counts_live_in_redis_where_every_process_sees_them(redis_cache):
    server, prefix = redis_cache
    with rates(anon="2/min"):
        answers = [APIClient().get(reverse("api:status")).status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        assert list(server.scan_iter(f"{prefix}:*throttle_anon_address-127.0.0.1"))

        caches.close_all()  # as if another worker answered: it reads the same counter from Redis
        assert APIClient().get(reverse("api:status")).status_code == 429
