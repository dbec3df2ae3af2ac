"""Answers derived from a few small tables (the freeze rules, the on-call schedule), kept in the default cache and
dropped the moment any of those tables changes, so a reader never sees a stale rule.

Every entry carries the generation it was computed under; a write to a watched model replaces the generation (at
once, and again when its transaction commits), so an entry computed from rows read before the commit is never
served after it. One cache round trip on a hit (the generation and the entry together), instead of the queries and
the Python that computed it.

Each process also keeps the entries it read last, with their generation: while the generation in the cache is still
theirs, a hit costs reading the generation alone, not unpickling the entry again (the alert catalogue's model
instances took 1-2 ms). Values are therefore shared by the requests of a process: treat them as read-only.

A request reads each generation once: its first two hits their own, its third every other cache's in one round trip
(an incident page asked for six, one round trip each). It sees its own process's invalidations at once; another
process's write is seen from the next request. Outside requests (workers, commands) each hit reads its generation.
"""

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

ENTRY_TIMEOUT = 3600  # seconds: a bound on memory, not on freshness (writes invalidate)
KEPT_IN_PROCESS = 32  # entries per cached answer a process keeps (the status page's minutes, the filters' values)
MINUTE = timedelta(minutes=1)

# (generation, valid until or None, value): what the cache and each process keep of an entry.
Entry = tuple[int, datetime | None, Any]


class RequestGenerations:
    """The generations one request has read. Its first two hits read their own generation alone (most requests use
    no more caches: the deploy gate and on-call now one, the lists two); a third reads every other cache's in the same
    round trip (a dozen keys cost more than one); after this process invalidates one, the next hit reads it again."""

    def __init__(self) -> None:
        self.known: dict[str, int | None] = {}

    def get(self, generation_key: str) -> int | None:
        if generation_key not in self.known:
            if len(self.known) < 2:
                self.known[generation_key] = cache.get(generation_key)
            else:
                keys = [derived.generation_key for derived in _ALL if derived.generation_key not in self.known]
                found = cache.get_many(keys)
                self.known.update({key: found.get(key) for key in keys})
                if generation_key not in self.known:  # a cache made since the registry was read
                    self.known[generation_key] = cache.get(generation_key)
        return self.known[generation_key]

    def known_as(self, generation_key: str, generation: int | None) -> None:
        self.known[generation_key] = generation

    def forget(self, generation_key: str) -> None:
        self.known.pop(generation_key, None)


_ALL: list["DerivedCache"] = []
_request: ContextVar[RequestGenerations | None] = ContextVar("derived_cache_request", default=None)


def _request_started(**_signal: object) -> None:
    _request.set(RequestGenerations())


def _request_finished(**_signal: object) -> None:
    _request.set(None)


request_started.connect(_request_started, dispatch_uid="derived-cache-request-started")
request_finished.connect(_request_finished, dispatch_uid="derived-cache-request-finished")


class DerivedCache:
    def __init__(self, name: str) -> None:
        self.name = name
        self.generation_key = f"derived:{name}:generation"
        self.entry_prefix = f"derived:{name}:entry:"
        self.watched: set[type[models.Model]] = set()
        self._kept: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()
        post_migrate.connect(self._invalidated, weak=False, dispatch_uid=f"derived-cache-{name}-migrate")
        _ALL.append(self)

    def get_or_compute(self, key: str, compute: Callable[[], tuple[Any, datetime | None]], *, now: datetime) -> Any:
        """The cached value for `key`, or `compute()`'s (value, valid until; None: until a write), stored."""
        entry_key = self.entry_prefix + key
        kept = self._kept.get(key)
        request = _request.get()
        if request is not None:
            generation = request.get(self.generation_key)
            entry = kept if _current(kept, generation, now) else cache.get(entry_key)
        elif kept is not None:
            generation, entry = cache.get(self.generation_key), kept
            if not _current(entry, generation, now):
                entry = cache.get(entry_key)
        else:
            found = cache.get_many([self.generation_key, entry_key])
            generation, entry = found.get(self.generation_key), found.get(entry_key)
        if _current(entry, generation, now):
            if entry is not kept:
                self._keep(key, entry, now)
            return entry[2]
        if generation is None:
            cache.add(self.generation_key, _new(), timeout=None)
            generation = cache.get(self.generation_key)
            if request is not None:
                request.known_as(self.generation_key, generation)
        value, valid_until = compute()  # rows read after the generation: a write since makes this entry stale
        entry = (generation, valid_until, value)
        cache.set(entry_key, entry, ENTRY_TIMEOUT)
        self._keep(key, entry, now)
        return value

    def _keep(self, key: str, entry: Entry, now: datetime) -> None:
        with self._lock:
            expired = [kept for kept, (_, until, _) in self._kept.items() if until is not None and until <= now]
            for kept in expired:
                del self._kept[kept]
            self._kept[key] = entry
            self._kept.move_to_end(key)
            while len(self._kept) > KEPT_IN_PROCESS:
                self._kept.popitem(last=False)

    def get_for_the_minute(self, compute: Callable[[], Any], *, now: datetime, key: str = "") -> Any:
        """`compute()`'s value (for `key`), kept for the minute `now` is in (for answers the clock moves, as well as
        writes)."""
        minute = now.replace(second=0, microsecond=0)
        return self.get_or_compute(f"{key}{minute:%Y%m%dT%H%M%z}", lambda: (compute(), minute + MINUTE), now=now)

    def invalidate(self) -> None:
        """Drop every entry: now (this request and tests see it at once) and at commit (a reader that read the old
        rows in between stored its entry under a generation that the commit replaces)."""
        self._new_generation()
        transaction.on_commit(self._new_generation)

    def _new_generation(self) -> None:
        cache.set(self.generation_key, _new(), timeout=None)
        self._forget_generation()

    def _forget_generation(self) -> None:
        """The request's next hit reads the generation again."""
        request = _request.get()
        if request is not None:
            request.forget(self.generation_key)

    def invalidate_on_change(self, *watched: type[models.Model], m2m: bool = True) -> None:
        """Invalidate on every save and delete of `watched` (services and admin edits alike) and, unless the answer
        reads none of them (`m2m=False`), on changes to their many-to-many fields."""
        self.watched.update(watched)
        for model in watched:
            uid = f"derived-cache-{self.name}-{model._meta.label}"
            post_save.connect(self._invalidated, sender=model, weak=False, dispatch_uid=uid + "-save")
            post_delete.connect(self._invalidated, sender=model, weak=False, dispatch_uid=uid + "-delete")
            for through in _m2m_throughs(model) if m2m else ():
                m2m_changed.connect(self._m2m_changed, sender=through, weak=False, dispatch_uid=uid + "-m2m")

    def _invalidated(self, **_signal: object) -> None:
        self.invalidate()

    def _m2m_changed(self, action: str, **_signal: object) -> None:
        # Once the rows changed, not also before (pre_add, pre_remove, pre_clear): an alert storm's every new incident
        # names its services.
        if action.startswith("post_"):
            self.invalidate()


def _new() -> int:
    """A generation: a random number, which Redis keeps as digits (reading a request's generations unpickles none)."""
    return secrets.randbits(62)


def _current(entry: Entry | None, generation: int | None, now: datetime) -> bool:
    """Whether `entry` may be served: computed under the current generation, and not past its validity."""
    return (
        entry is not None and generation is not None and entry[0] == generation and (entry[1] is None or now < entry[1])
    )


def _m2m_throughs(model: type[models.Model]) -> Iterable[type[models.Model]]:
    return (field.remote_field.through for field in model._meta.many_to_many)
