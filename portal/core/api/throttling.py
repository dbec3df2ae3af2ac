"""API rate limits: per token (or signed-in user), per anonymous address, and a generous scope for integrations.

Rates are `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]`, read when a request is checked rather than when DRF is
imported, so a changed setting takes effect. Counters live in the default cache, shared by every web process.
"""

from typing import TYPE_CHECKING, Any
from uuid import uuid4

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from portal.core.audit import client_address

if TYPE_CHECKING:  # rest_framework.views imports the throttle settings: a runtime import would be circular
    from rest_framework.views import APIView

# The window's request times in a sorted set: drop the expired, count, and either add this request or answer the
# time whose expiry lets the next one in (the limit-th newest), all in one atomic round trip.
SLIDING_WINDOW = """
local now, duration, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], duration)
  return false
end
if limit <= 0 then
  return ARGV[1]
end
return redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')[2]
"""


class PortalRateThrottle(throttling.SimpleRateThrottle):
    """DRF's sliding window. In Redis it is counted atomically (SLIDING_WINDOW, one round trip): DRF's own read of the
    history then write of it back (two trips) lets concurrent requests overwrite each other's counts, so a burst
    from one client, as every pipeline asking the deploy gate at once, got through past its rate. Other caches (a
    development machine's files, the suite's memory) keep DRF's way."""

    blocking: float | None = None  # when refused: the request time whose expiry lets the next one in

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES[str(self.scope)]
        return None if rate is None else str(rate)

    def get_ident(self, request: Request) -> str:
        return client_address(request) or ""

    def allow_request(self, request: Request, view: "APIView | None") -> bool:  # type: ignore[override]
        backend = caches[DEFAULT_CACHE_ALIAS]
        if self.rate is None or not isinstance(backend, RedisCache):
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        key = backend.make_and_validate_key(self.key)
        client = backend._cache.get_client(key, write=True)  # Django's RedisCache has no public way to its client
        blocking = client.register_script(SLIDING_WINDOW)(
            keys=[key], args=[repr(self.now), self.duration, self.num_requests, uuid4().hex]
        )
        if blocking is None:
            return True
        self.blocking = float(blocking)
        return self.throttle_failure()

    def throttle_failure(self) -> bool:
        if self.blocking is None:  # DRF's history, newest first
            limit = self.num_requests or 0
            self.blocking = self.history[limit - 1] if 0 < limit <= len(self.history) else self.now
        return False

    def wait(self) -> float:
        """Seconds until a request is allowed again, also when more requests were recorded than the rate allows
        (after the rate was lowered), where DRF's own answer is None and the 429 would carry no Retry-After."""
        blocking = self.now if self.blocking is None else self.blocking
        return max((self.duration or 0) - (self.now - blocking), 1.0)

    def key_for(self, ident: str) -> str:
        return self.cache_format % {"scope": self.scope, "ident": ident}


def credential_ident(request: Request) -> str | None:
    """Whom a request counts against: its token or integration (each on its own) or its signed-in user."""
    auth: Any = request.auth
    if auth is not None and getattr(auth, "pk", None) is not None:
        return f"{type(auth).__name__.lower()}-{auth.pk}"
    if request.user and request.user.is_authenticated:
        return f"user-{request.user.pk}"
    return None


class UserRateThrottle(PortalRateThrottle):
    """API_THROTTLE_USER per token, or per user for session requests."""

    scope = "user"

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        ident = credential_ident(request)
        return None if ident is None else self.key_for(ident)


class AnonRateThrottle(PortalRateThrottle):
    """API_THROTTLE_ANON per client address, for requests without credentials."""

    scope = "anon"

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        if credential_ident(request) is not None:
            return None
        return self.key_for(f"address-{self.get_ident(request)}")


class IntegrationRateThrottle(PortalRateThrottle):
    """API_THROTTLE_INTEGRATION per integration or token: for the endpoints machines call in bursts (Alertmanager's
    webhook, the deploy gate). Replaces the user and anonymous throttles on the views that use it."""

    scope = "integration"

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        return self.key_for(credential_ident(request) or f"address-{self.get_ident(request)}")


class SubscribeRateThrottle(PortalRateThrottle):
    """API_THROTTLE_SUBSCRIBE per client address: status-page subscription requests, each of which sends an email.
    The status page's form (a Django view) checks it too."""

    scope = "subscribe"

    def get_cache_key(self, request: Request, view: "APIView | None") -> str | None:
        return self.key_for(f"address-{self.get_ident(request)}")
