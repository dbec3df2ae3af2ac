"""Error budgets and burn rates: plain arithmetic over tallies of bad and covered time.

A sample's bad fraction: a ratio SLI counts its bad share (100 - value for "at least", value for "at most", as a
fraction of 1); a time-slice SLI counts the whole sample as bad when it misses the target. Bad time is the bad
fraction times the sample's seconds, so a ratio SLI's budget is weighted by time (steady traffic assumed). Time
without samples counts neither way: the burn rate is measured over the time that has data.

The budget is the allowed bad fraction of a 30-day window: 99.9% allows 0.1% of 30 days, 43.2 minutes. A burn rate of
1 spends exactly the budget over the window; 14.4 spends it in about two days.
"""

from dataclasses import dataclass
from datetime import timedelta

from operations.models import BurnRateRule, Slo

WINDOW = timedelta(days=30)


def bad_fraction(slo: Slo, value: float) -> float:
    """How much of a sample with this value is bad, from 0 to 1. selectors.slo_tallies does the same in SQL."""
    if slo.method == Slo.Method.TIME_SLICES:
        return 0.0 if slo.meets(value) else 1.0
    share = (100 - value) / 100 if slo.comparison == Slo.Comparison.AT_LEAST else value / 100
    return min(1.0, max(0.0, share))


@dataclass(frozen=True)
class Tally:
    """Bad and covered seconds over some window."""

    bad_seconds: float = 0.0
    covered_seconds: float = 0.0


def burn_rate(tally: Tally, *, allowed: float) -> float | None:
    """How many times faster than sustainable the budget burns; None without data."""
    if tally.covered_seconds <= 0 or allowed <= 0:
        return None
    return tally.bad_seconds / tally.covered_seconds / allowed


@dataclass(frozen=True)
class Budget:
    allowed_seconds: float
    consumed_seconds: float
    covered_seconds: float
    window_seconds: float

    @property
    def remaining_seconds(self) -> float:
        return self.allowed_seconds - self.consumed_seconds

    @property
    def remaining_fraction(self) -> float:
        """1.0 untouched, 0 spent, below 0 overspent."""
        return self.remaining_seconds / self.allowed_seconds if self.allowed_seconds else 0.0

    @property
    def remaining_percent(self) -> float:
        return 100 * self.remaining_fraction

    @property
    def allowed_minutes(self) -> float:
        return self.allowed_seconds / 60

    @property
    def remaining_minutes(self) -> float:
        return self.remaining_seconds / 60

    @property
    def coverage(self) -> float:
        """The share of the window with data."""
        return self.covered_seconds / self.window_seconds

    @property
    def attainment(self) -> float | None:
        """The share of covered time that was good, as a percentage (the SLI over the window)."""
        if not self.covered_seconds:
            return None
        return 100 * (1 - self.consumed_seconds / self.covered_seconds)


def error_budget(tally: Tally, *, allowed: float, window: timedelta = WINDOW) -> Budget:
    seconds = window.total_seconds()
    return Budget(
        allowed_seconds=allowed * seconds,
        consumed_seconds=tally.bad_seconds,
        covered_seconds=tally.covered_seconds,
        window_seconds=seconds,
    )


def rule_fires(rule: BurnRateRule, *, long: Tally, short: Tally, allowed: float) -> bool:
    """Both windows burn at the rule's factor or faster."""
    rates = (burn_rate(long, allowed=allowed), burn_rate(short, allowed=allowed))
    # A rate computed to exactly the factor may come out a rounding error below it; that still fires.
    return all(rate is not None and rate >= rule.factor * (1 - 1e-9) for rate in rates)
