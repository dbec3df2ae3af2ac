from datetime import timedelta

import pytest

from operations.budget import WINDOW, Tally, bad_fraction, burn_rate, error_budget, rule_fires
from operations.models import BurnRateRule, Slo
from operations.selectors.slo import slo_tallies
from tests.operations.conftest import T0


def test_99_9_percent_over_30_days_is_43_2_minutes(availability):
    budget = error_budget(Tally(), allowed=availability.allowed_bad_fraction)
    assert budget.allowed_minutes == pytest.approx(43.2)
    assert budget.remaining_fraction == 1.0
    assert budget.attainment is None  # no data is not 100%


def test_error_rate_below_0_1_percent_has_the_same_budget(db):
    error_rate = Slo.objects.get(slug="api-error-rate")
    assert error_rate.allowed_bad_fraction == pytest.approx(0.001)


def test_time_slice_slos_budget_their_objective(db):
    latency = Slo.objects.get(slug="api-latency")
    assert latency.allowed_bad_fraction == pytest.approx(0.001)
    assert bad_fraction(latency, 499) == 0.0
    assert bad_fraction(latency, 501) == 1.0
    cache = Slo.objects.get(slug="cache-hit-rate")
    assert bad_fraction(cache, 84.9) == 1.0
    assert bad_fraction(cache, 85) == 0.0


def test_ratio_slis_count_their_bad_share(availability, db):
    assert bad_fraction(availability, 99.0) == pytest.approx(0.01)
    assert bad_fraction(availability, 100.0) == 0.0
    assert bad_fraction(Slo.objects.get(slug="api-error-rate"), 2.0) == pytest.approx(0.02)


def test_spending_and_overspending():
    ten_minutes_down = Tally(bad_seconds=600, covered_seconds=WINDOW.total_seconds())
    budget = error_budget(ten_minutes_down, allowed=0.001)
    assert budget.remaining_minutes == pytest.approx(33.2)
    assert budget.remaining_fraction == pytest.approx(33.2 / 43.2)
    assert budget.attainment == pytest.approx(100 * (1 - 600 / WINDOW.total_seconds()))
    overspent = error_budget(Tally(bad_seconds=60 * 60, covered_seconds=3600), allowed=0.001)
    assert overspent.remaining_fraction < 0


def test_burn_rate_is_error_ratio_over_allowed_ratio():
    assert burn_rate(Tally(bad_seconds=36, covered_seconds=3600), allowed=0.001) == pytest.approx(10)
    assert burn_rate(Tally(), allowed=0.001) is None  # no data: no rate


@pytest.mark.parametrize(
    ("long_bad", "short_bad", "fires"),
    [
        (0.0144 * 3600, 0.0144 * 300, True),  # exactly 14.4x on both windows
        (0.02 * 3600, 0.0, False),  # burned for an hour but stopped: the short window resets it
        (0.0, 0.02 * 300, False),  # a five-minute blip is not a fast burn
        (0.014 * 3600, 0.02 * 300, False),  # 14x is below the threshold
    ],
)
def test_multi_window_rule_needs_both_windows(long_bad, short_bad, fires):
    rule = BurnRateRule(factor=14.4, long_window_minutes=60, short_window_minutes=5)
    long, short = Tally(long_bad, 3600), Tally(short_bad, 300)
    assert rule_fires(rule, long=long, short=short, allowed=0.001) is fires


def test_seeded_rules_are_the_seeds_numbers(db):
    rules = [(r.factor, r.long_window_minutes, r.short_window_minutes, r.action) for r in BurnRateRule.objects.all()]
    assert rules == [(14.4, 60, 5, "page"), (6.0, 360, 30, "page"), (1.0, 4320, 360, "ticket")]


def test_sql_tallies_match_the_python_rule_for_every_seeded_slo(db, add_samples):
    values = {"%": [100, 99.95, 99.0, 85, 84, 70, 0.05, 0.5, 2.0], "ms": [50, 100, 101, 499, 500, 501, 2000, 5001]}
    for slo in Slo.objects.all():
        for offset, value in enumerate(values[slo.unit]):
            add_samples(slo, value=value, minutes=1, end=T0 - timedelta(minutes=offset))
    tallies = slo_tallies(slo_ids=Slo.objects.values_list("pk", flat=True), now=T0, windows=[timedelta(hours=1)])
    for slo in Slo.objects.all():
        expected = sum(bad_fraction(slo, value) * 60 for value in values[slo.unit])
        tally = tallies[slo.pk][timedelta(hours=1)]
        assert tally.bad_seconds == pytest.approx(expected), slo.slug
        assert tally.covered_seconds == 60 * len(values[slo.unit])


def test_tallies_count_only_samples_that_start_inside_each_window(availability, add_samples):
    add_samples(availability, value=90, minutes=10, end=T0 - timedelta(minutes=50))  # minutes 60..50 before T0
    add_samples(availability, value=100, minutes=5, end=T0)
    windows = [timedelta(minutes=5), timedelta(hours=1), timedelta(days=30)]
    tally = slo_tallies(slo_ids=[availability.pk], now=T0, windows=windows)[availability.pk]
    assert tally[timedelta(minutes=5)] == Tally(0.0, 300.0)
    assert tally[timedelta(hours=1)].bad_seconds == pytest.approx(600 * 0.1)
    assert tally[timedelta(days=30)].covered_seconds == 900
