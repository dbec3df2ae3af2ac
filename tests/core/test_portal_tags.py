"""The template filters pages share."""

from datetime import timedelta

import pytest

from portal.core.templatetags.portal_tags import duration


@pytest.mark.parametrize(
    ("length", "said"),
    [(timedelta(hours=2), "2 h"), (timedelta(days=7), "7 d"), (timedelta(minutes=90), "1 h 30 min"),
     (timedelta(days=1, hours=2), "1 d 2 h"), (timedelta(0), "0 min")],
)  # fmt: skip
def test_durations_read_as_people_say_them(length, said):
    assert duration(length) == said
