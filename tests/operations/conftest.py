from datetime import UTC, datetime, timedelta

import pytest

from incidents.models import Service
from operations.models import SliSample, Slo
from portal.accounts.roles import Role

# A Tuesday morning.
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
STEP = timedelta(minutes=1)


@pytest.fixture
def api(db) -> Service:
    return Service.objects.create(name="API", slug="api", tier=Service.Tier.CRITICAL)


@pytest.fixture
def responder(make_user):
    return make_user(Role.RESPONDER, username="rami", email="rami@example.com")


@pytest.fixture
def availability(db) -> Slo:
    """The seeded API availability SLO: at least 99.9% good, a 43.2-minute budget."""
    return Slo.objects.get(slug="api-availability")


@pytest.fixture
def add_samples():
    """Minute samples of `value` for `minutes` minutes ending at `end`."""

    def add(slo: Slo, *, value: float, minutes: int, end: datetime = T0) -> list[SliSample]:
        start = end - minutes * STEP
        return SliSample.objects.bulk_create(
            SliSample(slo=slo, start=start + index * STEP, seconds=60, value=value, source=SliSample.Source.API)
            for index in range(minutes)
        )

    return add
