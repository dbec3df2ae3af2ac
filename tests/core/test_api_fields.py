"""The API's DateTimeField writes instants as DRF's own does under the portal's time zone, without DRF's per-value
time-zone round (issue 13: it was half of serialising a page of 50 incidents)."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from rest_framework import serializers

from portal.core.api.fields import DateTimeField

INSTANTS = [
    datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
    datetime(2026, 11, 27, 10, 0, 5, 120, tzinfo=UTC),
    datetime(2027, 3, 28, 1, 30, tzinfo=ZoneInfo("Europe/Berlin")),
    datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),
    datetime(2026, 6, 1, 23, 59, 59, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
]


@pytest.mark.parametrize("value", [*INSTANTS, None, "2026-11-27T10:00:00Z"])
def test_instants_are_written_as_drf_writes_them(value):
    assert settings.TIME_ZONE == "UTC"  # what the direct path assumes, as DRF's converts to the current zone
    ours, drfs = DateTimeField(allow_null=True), serializers.DateTimeField(allow_null=True)
    assert ours.to_representation(value) == drfs.to_representation(value)


def test_an_explicit_format_or_zone_is_drfs_to_honour():
    berlin = ZoneInfo("Europe/Berlin")
    assert DateTimeField(format="%Y-%m-%d").to_representation(INSTANTS[0]) == "2026-11-27"
    assert DateTimeField(default_timezone=berlin).to_representation(INSTANTS[0]) == "2026-11-27T11:00:00+01:00"
