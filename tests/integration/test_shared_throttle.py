"""API throttle counters in Redis, as production keeps them: shared by every web process, not counted per process."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.core.cache import caches
from django.test import RequestFactory, override_settings
from django.urls import reverse
from rest_framework.request import Request
from rest_framework.test import APIClient

from portal.core.api.throttling import AnonRateThrottle
from tests.core.test_throttling import rates

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_cache(settings):
    """The Redis cache portal.settings picks for a redis:// broker, under a key prefix of its own (clearing the
    cache would flush the broker's database)."""
    prefix = f"test-{uuid.uuid4().hex}"
    cache = {"BACKEND": "portal.core.cache.RedisCache", "LOCATION": settings.CELERY_BROKER_URL}
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


def anonymous_request(address: str = "192.0.2.10") -> Request:
    return Request(RequestFactory().get("/", REMOTE_ADDR=address))


def throttle_at(moment: float) -> AnonRateThrottle:
    throttle = AnonRateThrottle()
    throttle.timer = lambda: moment  # type: ignore[method-assign]
    return throttle


def test_a_burst_of_concurrent_requests_gets_exactly_the_rate_through(redis_cache):
    """Sixteen requests from one address at the same moment, five allowed a minute: five get through. Read-then-
    write counting let concurrent requests overwrite each other's counts and let more through."""
    start = threading.Barrier(16)

    def ask() -> bool:
        throttle = AnonRateThrottle()
        start.wait()
        return throttle.allow_request(anonymous_request(), None)

    with rates(anon="5/min"), ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: ask(), range(16)))

    assert answers.count(True) == 5


def test_the_window_slides_and_a_refusal_says_when_the_next_request_may_come(redis_cache):
    with rates(anon="2/min"):
        assert throttle_at(1000.0).allow_request(anonymous_request(), None)
        assert throttle_at(1030.0).allow_request(anonymous_request(), None)
        refused = throttle_at(1045.0)
        assert not refused.allow_request(anonymous_request(), None)
        assert refused.wait() == 15.0  # the request at 1000 leaves the window at 1060
        assert throttle_at(1060.0).allow_request(anonymous_request(), None)
        assert not throttle_at(1060.5).allow_request(anonymous_request(), None)  # 1030 and 1060 are in it


def test_a_lowered_rate_refuses_until_enough_of_the_history_has_left_the_window(redis_cache):
    with rates(anon="4/min"):
        for moment in (1000.0, 1010.0, 1020.0, 1030.0):
            assert throttle_at(moment).allow_request(anonymous_request(), None)
    with rates(anon="2/min"):
        refused = throttle_at(1040.0)
        assert not refused.allow_request(anonymous_request(), None)
        assert refused.wait() == 40.0  # two requests in the window once 1020 leaves it, at 1080
    with rates(anon="0/min"):
        closed = throttle_at(1040.0)
        assert not closed.allow_request(anonymous_request(), None)
        assert closed.wait() == 60.0


def test_the_cache_keeps_one_redis_client_and_still_answers_across_threads(redis_cache):
    """Django builds a client per call; ours keeps the first, which threads share through its connection pool."""
    cache = caches["default"]
    client = cache._cache.get_client("a", write=True)
    assert cache._cache.get_client("b") is client

    def round_trip(i: int) -> object:
        cache.set(f"k{i}", {"i": i}, 30)
        return cache.get(f"k{i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(round_trip, range(40))) == [{"i": i} for i in range(40)]
