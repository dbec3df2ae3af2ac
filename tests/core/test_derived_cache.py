"""Cached answers are dropped the moment what they were computed from changes (issue 13: the deploy gate and on-call
now within 1.5x the floor, never a stale rule)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.signals import request_finished, request_started

from portal.core.derived_cache import KEPT_IN_PROCESS, DerivedCache

pytestmark = pytest.mark.django_db  # invalidating asks the transaction to invalidate again at commit

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_a_hit_does_not_compute_and_expires_when_the_answer_would_change():
    cached = DerivedCache("test-expiry")
    assert cached.get_or_compute("k", lambda: ("first", T0 + timedelta(minutes=5)), now=T0) == "first"
    assert cached.get_or_compute("k", lambda: ("second", None), now=T0 + timedelta(minutes=4)) == "first"
    assert cached.get_or_compute("k", lambda: ("third", None), now=T0 + timedelta(minutes=5)) == "third"


def test_an_answer_computed_while_a_write_landed_is_not_served_after_it():
    cached = DerivedCache("test-race")

    def read_then_a_write_lands() -> tuple[str, None]:
        cached.invalidate()  # a writer, while this reader still holds the old rows
        return "old rows", None

    assert cached.get_or_compute("k", read_then_a_write_lands, now=T0) == "old rows"
    assert cached.get_or_compute("k", lambda: ("new rows", None), now=T0) == "new rows"


def test_the_commit_drops_what_was_read_before_it(django_capture_on_commit_callbacks):
    cached = DerivedCache("test-commit")
    with django_capture_on_commit_callbacks(execute=True):
        cached.invalidate()  # the writer's save, inside its transaction
        assert cached.get_or_compute("k", lambda: ("uncommitted view", None), now=T0) == "uncommitted view"
    assert cached.get_or_compute("k", lambda: ("committed view", None), now=T0) == "committed view"


def test_a_process_serves_what_it_kept_while_the_generation_is_theirs():
    """A hit after the first reads the generation alone: the entry in the cache is not read (nor unpickled) again."""
    cached = DerivedCache("test-kept")
    value = ["computed"]
    assert cached.get_or_compute("k", lambda: (value, None), now=T0) is value
    cache.delete(cached.entry_prefix + "k")  # what another reader would unpickle
    assert cached.get_or_compute("k", lambda: (["again"], None), now=T0) is value


def test_a_write_in_another_process_drops_what_this_one_kept():
    """Another process's write replaces the generation in the shared cache; this process's copy is then stale."""
    cached = DerivedCache("test-kept-elsewhere")
    assert cached.get_or_compute("k", lambda: ("before", None), now=T0) == "before"
    cache.set(cached.generation_key, "another process's write", timeout=None)
    assert cached.get_or_compute("k", lambda: ("after", None), now=T0) == "after"
    cache.clear()  # a restarted cache server: no generation at all
    assert cached.get_or_compute("k", lambda: ("after a restart", None), now=T0) == "after a restart"


def test_a_kept_entry_expires_and_another_processs_newer_entry_is_taken():
    here, elsewhere = DerivedCache("test-kept-expiry"), DerivedCache("test-kept-expiry")  # two processes' instances
    assert here.get_or_compute("k", lambda: ("first", T0 + timedelta(minutes=1)), now=T0) == "first"
    assert elsewhere.get_or_compute("k", lambda: ("second", None), now=T0 + timedelta(minutes=1)) == "second"
    assert here.get_or_compute("k", lambda: ("third", None), now=T0 + timedelta(minutes=1)) == "second"


def test_a_process_keeps_a_bounded_number_of_entries():
    cached = DerivedCache("test-kept-bound")
    for minute in range(KEPT_IN_PROCESS + 5):
        cached.get_or_compute(f"k{minute}", lambda: ("v", None), now=T0)
    assert len(cached._kept) == KEPT_IN_PROCESS
    for minute in range(3):  # entries valid for a minute are dropped once it has passed
        cached.get_for_the_minute(lambda: "minute", now=T0 + timedelta(minutes=minute))
    assert sum(key.startswith("2026") for key in cached._kept) == 1


def test_a_request_reads_the_generations_once_and_sees_its_own_writes_at_once(django_capture_on_commit_callbacks):
    """Within a request each cache's generation is read once (at the third cache's hit, every other one's with it):
    another process's write is seen from the next request; this process's invalidation (now and at commit) at once."""
    rules, catalogue = DerivedCache("test-request-rules"), DerivedCache("test-request-catalogue")
    services, holders = DerivedCache("test-request-services"), DerivedCache("test-request-holders")
    assert holders.get_or_compute("k", lambda: ("holders", None), now=T0) == "holders"  # computed outside a request
    request_started.send(sender=None)
    try:
        assert rules.get_or_compute("k", lambda: ("rules", None), now=T0) == "rules"
        assert catalogue.get_or_compute("k", lambda: ("catalogue", None), now=T0) == "catalogue"
        assert services.get_or_compute("k", lambda: ("services", None), now=T0) == "services"  # reads the rest
        for cached in (rules, catalogue, holders):
            cache.set(cached.generation_key, "another process's write", timeout=None)
        assert rules.get_or_compute("k", lambda: ("rules again", None), now=T0) == "rules"
        assert holders.get_or_compute("k", lambda: ("holders again", None), now=T0) == "holders"
        with django_capture_on_commit_callbacks(execute=True):
            catalogue.invalidate()  # this process's write, inside its transaction
            assert catalogue.get_or_compute("k", lambda: ("uncommitted", None), now=T0) == "uncommitted"
        assert catalogue.get_or_compute("k", lambda: ("committed", None), now=T0) == "committed"
    finally:
        request_finished.send(sender=None)
    request_started.send(sender=None)
    try:
        assert rules.get_or_compute("k", lambda: ("the next request's", None), now=T0) == "the next request's"
    finally:
        request_finished.send(sender=None)
    assert rules.get_or_compute("k", lambda: ("outside a request", None), now=T0) == "the next request's"
    cache.set(rules.generation_key, "a worker's write", timeout=None)
    assert rules.get_or_compute("k", lambda: ("each hit reads it", None), now=T0) == "each hit reads it"
