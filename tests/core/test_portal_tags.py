"""The template filters pages share, and the one way the portal writes a length of time."""

from datetime import timedelta

import pytest

from operations.templatetags.operations_tags import minutes
from portal.core.templatetags.portal_tags import duration
from portal.text import duration_words


@pytest.mark.parametrize(
    ("length", "said"),
    [(timedelta(hours=2), "2 h"), (timedelta(days=7), "7 d"), (timedelta(minutes=90), "1 h 30 min"),
     (timedelta(days=1, hours=2), "26 h"), (timedelta(0), "0 min")],
)  # fmt: skip
def test_durations_read_as_people_say_them(length, said):
    assert duration(length) == said


@pytest.mark.parametrize(
    ("length", "said"),
    [(0, "0 min"), (5, "5 min"), (60, "1 h"), (65, "1 h 5 min"), (360, "6 h"), (1440, "24 h"), (2879, "47 h 59 min"),
     (2880, "2 d"), (4320, "3 d"), (2 * 1440 + 125, "2 d 2 h 5 min"), (-3, "0 min")],
)  # fmt: skip
def test_every_page_writes_a_length_of_time_one_way(length, said):
    assert duration_words(length) == said
    assert duration(timedelta(minutes=length)) == said  # windows, notice leads, procedure steps and runs
    assert minutes(length) == said  # recovery objectives


def test_a_missing_recovery_objective_reads_n_a():
    assert minutes(None) == "n/a"
