from datetime import UTC, date, datetime, time, timedelta

import pytest

from oncall.models import Rotation
from oncall.services import rotation_create
from portal.accounts.roles import Role

TICK = timedelta(microseconds=1)
LONDON, NEW_YORK = "Europe/London", "America/New_York"


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


@pytest.fixture
def people(make_user):
    """Three on-call engineers (Responders) with contact methods: ann, ben, cat."""
    return [
        make_user(
            Role.RESPONDER, username=name, first_name=name.title(), phone=f"+1415555010{n}", chat_handle=f"@{name}"
        )
        for n, name in enumerate(["ann", "ben", "cat"], start=1)
    ]


@pytest.fixture
def ann(people):
    return people[0]


@pytest.fixture
def ben(people):
    return people[1]


@pytest.fixture
def cat(people):
    return people[2]


@pytest.fixture
def lead(make_user):
    return make_user(Role.INCIDENT_COMMANDER, username="lena", email="lena@example.com")


@pytest.fixture
def make_rotation(people, admin_user):
    """A rotation; by default the seeds' weekly Monday 09:00 UTC one, from Monday 2026-01-05, people ann, ben, cat."""

    def make(
        name: str = "Checkout on-call",
        *,
        zone: str = "UTC",
        rrule: str = "FREQ=WEEKLY;BYDAY=MO",
        at: time = time(9),
        start_date: date = date(2026, 1, 5),
        participants=None,
        **fields,
    ) -> Rotation:
        return rotation_create(
            name=name, timezone=zone, handoff_rrule=rrule, handoff_time=at, start_date=start_date,
            participants=people if participants is None else participants, actor=admin_user, **fields,
        )  # fmt: skip

    return make


@pytest.fixture
def rotation(make_rotation):
    return make_rotation()
