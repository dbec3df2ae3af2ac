"""Reads for SLOs: budgets and burn rates for many SLOs in a fixed number of queries, and the budget's history."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Case, ExpressionWrapper, F, FloatField, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Greatest, Least, TruncHour

from operations.budget import WINDOW, Budget, Tally, burn_rate, error_budget
from operations.models import BurnAlert, BurnRateRule, SliSample, Slo

HOUR = timedelta(hours=1)

if TYPE_CHECKING:
    from django.db.models.expressions import CombinedExpression


def slo_list() -> QuerySet[Slo]:
    """SLOs with their service and latest value."""
    latest = SliSample.objects.filter(slo=OuterRef("pk")).order_by("-start")
    return Slo.objects.select_related("service").annotate(
        latest_value=Subquery(latest.values("value")[:1]), latest_start=Subquery(latest.values("start")[:1])
    )


def burn_rules() -> list[BurnRateRule]:
    return list(BurnRateRule.objects.filter(enabled=True).order_by("-factor"))


def burn_alerts() -> QuerySet[BurnAlert]:
    return BurnAlert.objects.select_related("slo", "rule").order_by("-started_at", "-pk")


def _bad_fraction() -> Case:
    """budget.bad_fraction in SQL, reading each sample's SLO."""
    value = F("value")
    ratio_share = {
        Slo.Comparison.AT_LEAST: (Value(100.0) - value) / Value(100.0),
        Slo.Comparison.AT_MOST: value / Value(100.0),
    }
    clipped = {
        comparison: Greatest(Value(0.0), Least(Value(1.0), share), output_field=FloatField())
        for comparison, share in ratio_share.items()
    }
    return Case(
        *(
            When(slo__method=Slo.Method.RATIO, slo__comparison=comparison, then=expression)
            for comparison, expression in clipped.items()
        ),
        When(slo__method=Slo.Method.TIME_SLICES, slo__comparison=Slo.Comparison.AT_LEAST,
             value__lt=F("slo__target"), then=Value(1.0)),
        When(slo__method=Slo.Method.TIME_SLICES, slo__comparison=Slo.Comparison.AT_MOST,
             value__gt=F("slo__target"), then=Value(1.0)),
        default=Value(0.0),
        output_field=FloatField(),
    )  # fmt: skip


def _bad_seconds() -> "ExpressionWrapper[CombinedExpression]":  # generic only to the type checker
    return ExpressionWrapper(_bad_fraction() * F("seconds"), output_field=FloatField())


def slo_tallies(
    *, slo_ids: Iterable[int], now: datetime, windows: Iterable[timedelta]
) -> dict[int, dict[timedelta, Tally]]:
    """Bad and covered seconds of each SLO over each window ending at `now`, in one query.

    A sample counts in a window when it starts inside it (samples end by the time they are recorded).
    """
    slo_ids, windows = list(slo_ids), sorted(set(windows))
    tallies = {slo_id: {window: Tally() for window in windows} for slo_id in slo_ids}
    if not slo_ids or not windows:
        return tallies
    aggregates = {}
    for index, window in enumerate(windows):
        inside = Q(start__gte=now - window)
        aggregates[f"bad_{index}"] = Sum(_bad_seconds(), filter=inside, default=0.0)
        aggregates[f"covered_{index}"] = Sum("seconds", filter=inside, default=0)
    rows = (
        SliSample.objects.filter(slo_id__in=slo_ids, start__gte=now - windows[-1], start__lt=now)
        .values("slo_id")
        .annotate(**aggregates)
        .order_by()
    )
    for row in rows:
        values: dict[str, Any] = dict(row)  # keys are built per window, which a TypedDict cannot describe
        tallies[values["slo_id"]] = {
            window: Tally(bad_seconds=float(values[f"bad_{i}"]), covered_seconds=float(values[f"covered_{i}"]))
            for i, window in enumerate(windows)
        }
    return tallies


@dataclass(frozen=True)
class RuleBurn:
    rule: BurnRateRule
    long: float | None
    short: float | None


@dataclass(frozen=True)
class SloStatus:
    """An SLO with its 30-day budget, the burn rates its rules watch, and its open burn alerts."""

    slo: Slo
    budget: Budget
    burns: list[RuleBurn]
    open_alerts: list[BurnAlert]

    @property
    def latest_value(self) -> float | None:
        return getattr(self.slo, "latest_value", None)

    @property
    def standing(self) -> str:
        """'ok' meeting the target, 'degraded' within the maximum acceptable, 'down' beyond it, 'unknown'."""
        value = self.latest_value
        if value is None:
            return "unknown"
        if self.slo.meets(value):
            return "ok"
        return "degraded" if self.slo.meets(value, self.slo.max_acceptable) else "down"


def rule_windows(rules: Sequence[BurnRateRule]) -> set[timedelta]:
    return {WINDOW} | {rule.long_window for rule in rules} | {rule.short_window for rule in rules}


def slo_statuses(slos: Sequence[Slo], *, now: datetime) -> list[SloStatus]:
    """Budgets and burn rates for `slos` in three queries, whatever their number."""
    rules = burn_rules()
    tallies = slo_tallies(slo_ids=[slo.pk for slo in slos], now=now, windows=rule_windows(rules))
    open_alerts: dict[int, list[BurnAlert]] = {slo.pk: [] for slo in slos}
    for alert in burn_alerts().filter(slo__in=slos, ended_at__isnull=True):
        open_alerts[alert.slo_id].append(alert)
    statuses = []
    for slo in slos:
        allowed, tally = slo.allowed_bad_fraction, tallies[slo.pk]
        burns = [
            RuleBurn(rule=rule, long=burn_rate(tally[rule.long_window], allowed=allowed),
                     short=burn_rate(tally[rule.short_window], allowed=allowed))
            for rule in rules
        ]  # fmt: skip
        statuses.append(
            SloStatus(slo=slo, budget=error_budget(tally[WINDOW], allowed=allowed), burns=burns,
                      open_alerts=open_alerts[slo.pk])
        )  # fmt: skip
    return statuses


def slo_budget_history(*, slo: Slo, now: datetime) -> list[tuple[datetime, float]]:
    """The 30-day budget spent so far at each hour of the window, as (instant, bad seconds spent): the chart's line.

    Starts at the window's start with nothing spent; hours without samples spend nothing.
    """
    start = now - WINDOW
    hourly = (
        SliSample.objects.filter(slo=slo, start__gte=start, start__lt=now)
        .annotate(hour=TruncHour("start"))
        .values("hour")
        .annotate(bad=Sum(_bad_seconds(), default=0.0))
        .order_by()
    )
    spent_by_hour = {row["hour"]: float(row["bad"]) for row in hourly}
    points, spent = [(start, 0.0)], 0.0
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < now:
        spent += spent_by_hour.get(hour, 0.0)
        points.append((max(start, min(hour + HOUR, now)), spent))
        hour += HOUR
    return points
