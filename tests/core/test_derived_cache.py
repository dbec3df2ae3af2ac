"""Cached answers are dropped the moment what they were computed from changes (issue 13: the deploy gate and on-call
now within 1.5x the floor, never a stale rule)."""

from datetime import UTC, datetime, timedelta

import pytest

from portal.core.derived_cache import DerivedCache

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
