"""The dashboard's "on call now and next" is kept with the on-call answers: read once per shift edge, dropped by
any schedule change (issue 13: the dashboard refreshes itself every 30 s for everyone who has it open)."""

from datetime import date, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oncall.models import Layer
from oncall.services import override_create
from portal.core.attention import oncall_now_and_next
from tests.oncall.conftest import utc

pytestmark = pytest.mark.django_db

WEEKLY = "Checkout on-call"
MONDAY_NOON = utc(2026, 1, 12, 12)  # ben has the weekly rotation since 09:00; cat takes it next Monday 09:00


@pytest.fixture
def weekly(make_rotation):
    return make_rotation(WEEKLY, start_date=date(2026, 1, 5), at=time(9))


def names(rows):
    """Now and next on the test's rotation (the seeded Platform on-call has nobody)."""
    return [(row.now.person.username, row.next.person.username) for row in rows if row.rotation_name == WEEKLY]


def test_read_once_then_served_for_up_to_an_hour_or_until_the_next_shift_edge(weekly, time_machine):
    time_machine.move_to(MONDAY_NOON, tick=False)
    assert names(oncall_now_and_next(now=MONDAY_NOON)) == [("ben", "cat")]
    with CaptureQueriesContext(connection) as again:
        assert names(oncall_now_and_next(now=MONDAY_NOON + timedelta(minutes=59))) == [("ben", "cat")]
    assert len(again) == 0
    with CaptureQueriesContext(connection) as hour_later:
        assert names(oncall_now_and_next(now=MONDAY_NOON + timedelta(minutes=61))) == [("ben", "cat")]
    assert len(hour_later) > 0, "past the hour the schedules are read again"
    before_handoff = utc(2026, 1, 19, 8, 30)
    assert names(oncall_now_and_next(now=before_handoff)) == [("ben", "cat")]
    assert names(oncall_now_and_next(now=utc(2026, 1, 19, 9))) == [("cat", "ann")], "not served past the handoff"


def test_a_change_to_the_schedule_is_seen_at_once(weekly, ann, admin_user, time_machine):
    time_machine.move_to(MONDAY_NOON, tick=False)
    assert names(oncall_now_and_next(now=MONDAY_NOON)) == [("ben", "cat")]
    override_create(rotation=weekly, layer=Layer.PRIMARY, user=ann, start=MONDAY_NOON,
                    end=MONDAY_NOON + timedelta(hours=2), actor=admin_user, now=MONDAY_NOON)  # fmt: skip
    assert names(oncall_now_and_next(now=MONDAY_NOON)) == [("ann", "ben")]  # ben again when the cover ends
