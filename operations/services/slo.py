"""SLI values in (from Prometheus or the API), burn-rate alerts out (through the notifications service)."""

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from operations import policy
from operations.budget import WINDOW, burn_rate, error_budget, rule_fires
from operations.models import BurnAlert, BurnRateRule, SliSample, Slo, SloBreach
from operations.prometheus import MAX_POINTS, Point, PrometheusError, query_range
from operations.selectors.slo import burn_rules, rule_windows, slo_tallies
from portal.accounts.models import User
from portal.errors import ApplicationError
from portal.locking import lock_row
from portal.notifications.models import EventKind, PagerAction
from portal.notifications.models import Severity as NotificationSeverity
from portal.notifications.services import notify
from portal.text import duration_words

MAX_SAMPLE_SECONDS = 24 * 60 * 60
RangeQuery = Callable[..., list[Point]]


def sli_sample_record(
    *,
    slo: Slo,
    start: datetime,
    value: float,
    seconds: int | None = None,
    actor: User | None,
    now: datetime | None = None,
) -> SliSample:
    """Record an SLI value measured over [start, start + seconds). It must have ended and not overlap another."""
    now = now or timezone.now()
    seconds = settings.SLI_STEP_SECONDS if seconds is None else seconds
    if not 0 < seconds <= MAX_SAMPLE_SECONDS:
        raise ApplicationError(f"A sample covers 1 to {MAX_SAMPLE_SECONDS} seconds.", field="seconds")
    if not math.isfinite(value):
        raise ApplicationError("The value must be a number.", field="value")
    if slo.unit == "%" and not 0 <= value <= 100:
        raise ApplicationError(f"{slo.name} is a percentage: give 0 to 100.", field="value")
    if value < 0:
        raise ApplicationError("The value cannot be negative.", field="value")
    end = start + timedelta(seconds=seconds)
    if end > now:
        raise ApplicationError(f"The sample ends at {end.isoformat()}, in the future; post it once measured.",
                               field="start")  # fmt: skip
    with transaction.atomic():
        Slo.objects.select_for_update().get(pk=slo.pk)  # one writer per SLO at a time: the overlap check holds
        nearby = SliSample.objects.filter(
            slo=slo, start__lt=end, start__gt=start - timedelta(seconds=MAX_SAMPLE_SECONDS)
        )
        if clash := next((sample for sample in nearby if sample.end > start), None):
            raise ApplicationError(
                f"Overlaps the sample from {clash.start.isoformat()} to {clash.end.isoformat()}.", field="start"
            )
        return SliSample.objects.create(
            slo=slo, start=start, seconds=seconds, value=value, source=SliSample.Source.API, recorded_by=actor
        )


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def slo_fetch(*, slo: Slo, now: datetime | None = None, fetch: RangeQuery = query_range) -> int:
    """Read the SLO's PromQL from Prometheus for the steps since its last sample (at most 30 days back).

    Evaluations land on multiples of SLI_STEP_SECONDS and each value covers the step before it, so reading a range
    twice gives the same samples, which the unique (slo, start) constraint then ignores. Returns how many it read.
    Called outside any transaction: it waits on the network.
    """
    now = now or timezone.now()
    if slo.source != Slo.Source.PROMETHEUS:
        raise ApplicationError(f"{slo.name} takes its values through the API, not from Prometheus.", field="source")
    base_url = slo.prometheus_url or settings.PROMETHEUS_URL
    step = settings.SLI_STEP_SECONDS
    last = SliSample.objects.filter(slo=slo).order_by("-start").first()
    resume = max(last.end if last else now - WINDOW, now - WINDOW)
    first = math.ceil(resume.timestamp() / step) * step + step
    final = math.floor(now.timestamp() / step) * step
    if not base_url:
        _fetched(slo, now, error="No Prometheus server: set PROMETHEUS_URL or the SLO's own URL.")
        return 0
    if first > final:
        return 0
    points: list[Point] = []
    chunk = step * (MAX_POINTS - 1)
    try:
        for chunk_start in range(first, final + 1, chunk + step):
            chunk_end = min(chunk_start + chunk, final)
            points += fetch(base_url=base_url, query=slo.promql, start=_instant(chunk_start), end=_instant(chunk_end),
                            step=step, timeout=settings.PROMETHEUS_TIMEOUT)  # fmt: skip
    except PrometheusError as exc:
        _fetched(slo, now, error=str(exc))
        return 0
    samples = [
        SliSample(slo=slo, start=point.at - timedelta(seconds=step), seconds=step, value=point.value,
                  source=SliSample.Source.PROMETHEUS)
        for point in points
    ]  # fmt: skip
    with transaction.atomic():
        SliSample.objects.bulk_create(samples, ignore_conflicts=True)
        _fetched(slo, now, error="")
    return len(samples)


def _fetched(slo: Slo, now: datetime, *, error: str) -> None:
    slo.last_fetched_at, slo.last_fetch_error = now, error[:2000]
    slo.save(update_fields=["last_fetched_at", "last_fetch_error"])


def slo_url(slo: Slo) -> str:
    return settings.PORTAL_BASE_URL + reverse("slo-detail", args=[slo.slug])


def slo_evaluate(
    *, slo: Slo, now: datetime | None = None, oncall: policy.AssigneeResolver = policy.primary_oncall
) -> list[BurnAlert]:
    """Start an episode (and notify once) for each burn-rate rule that fires and has none open; end (and notify)
    the open episodes whose rule stopped firing. Returns the episodes started or ended."""
    now = now or timezone.now()
    with transaction.atomic():
        slo = lock_row(Slo.objects.select_related("service"), slo.pk)  # one evaluation per SLO at a time
        rules = burn_rules()
        tallies = slo_tallies(slo_ids=[slo.pk], now=now, windows=rule_windows(rules))[slo.pk]
        allowed = slo.allowed_bad_fraction
        budget = error_budget(tallies[WINDOW], allowed=allowed)
        open_alerts = {alert.rule_id: alert for alert in BurnAlert.objects.filter(slo=slo, ended_at__isnull=True)}
        changed = []
        for rule in rules:
            long, short = tallies[rule.long_window], tallies[rule.short_window]
            fires = slo.active and rule_fires(rule, long=long, short=short, allowed=allowed)
            alert = open_alerts.pop(rule.pk, None)
            if fires and alert is None:
                alert = BurnAlert.objects.create(
                    slo=slo, rule=rule, action=rule.action, started_at=now,
                    long_burn_rate=burn_rate(long, allowed=allowed) or 0.0,
                    short_burn_rate=burn_rate(short, allowed=allowed) or 0.0,
                    budget_remaining=budget.remaining_fraction,
                )  # fmt: skip
                _notify_started(alert, rule, budget.remaining_fraction, budget.remaining_seconds, oncall, now)
                changed.append(alert)
            elif alert is not None and not fires:
                changed.append(_end(alert, now))
        changed += [_end(alert, now) for alert in open_alerts.values()]  # their rule was disabled meanwhile
        _breach_check(slo, oncall=oncall, now=now)
    return changed


def _breach_check(slo: Slo, *, oncall: policy.AssigneeResolver, now: datetime) -> None:
    """Start a breach episode (telling the service's on-call, once) when the latest value is worse than the maximum
    acceptable, and end it once a value is acceptable again. Called with the SLO's row locked."""
    latest = SliSample.objects.filter(slo=slo, start__lte=now).order_by("-start", "-pk").first()
    if latest is None:
        return
    breached = slo.active and not slo.meets(latest.value, slo.max_acceptable)
    episode = SloBreach.objects.filter(slo=slo, ended_at__isnull=True).first()
    if breached and episode is None:
        episode = SloBreach.objects.create(slo=slo, started_at=now, value=latest.value)
        person = oncall(slo.service, now)
        episode.notified = notify(
            event=EventKind.SLO_BURN,
            severity=NotificationSeverity.CRITICAL,
            title=f"SLO {slo.name} breached: {latest.value:g}{slo.unit}, worse than the maximum acceptable "
            f"{slo.max_acceptable:g}{slo.unit}",
            summary=f"Target {slo.target:g}{slo.unit}; the maximum acceptable is {slo.max_acceptable:g}{slo.unit}. "
            "Told once per episode: the next notice says when it is acceptable again.",
            url=slo_url(slo),
            services=[slo.service] if slo.service else [],
            recipients=[person] if person else [],
            source=f"slo:{slo.pk}",
            dedup_key=f"slo-breach:{episode.pk}",
            now=now,
        )
        episode.save(update_fields=["notified"])
    elif episode is not None and not breached:
        episode.ended_at = now
        episode.save(update_fields=["ended_at"])
        notify(
            event=EventKind.SLO_BURN_ENDED,
            severity=NotificationSeverity.CRITICAL,
            title=f"SLO {slo.name} is acceptable again: {latest.value:g}{slo.unit}",
            summary=f"The breach that started at {episode.started_at:%Y-%m-%d %H:%M} UTC is over.",
            url=slo_url(slo),
            services=[slo.service] if slo.service else [],
            source=f"slo:{slo.pk}",
            dedup_key=f"slo-breach:{episode.pk}",
            pager_action=PagerAction.RESOLVE,
            now=now,
        )


def _notify_started(alert: BurnAlert, rule: BurnRateRule, remaining: float, remaining_seconds: float,
                    oncall: policy.AssigneeResolver, now: datetime) -> None:  # fmt: skip
    slo = alert.slo
    person = oncall(slo.service, now)
    notify(
        event=EventKind.SLO_BURN,
        severity=policy.BURN_ALERT_SEVERITY[BurnRateRule.Action(alert.action)],
        title=f"SLO {slo.name}: {rule.name.lower()}, {alert.long_burn_rate:.1f}x over "
        f"{duration_words(rule.long_window_minutes)} ({alert.get_action_display().lower()})",
        summary=(
            f"The error budget burns {alert.long_burn_rate:.1f}x the sustainable rate over the last "
            f"{duration_words(rule.long_window_minutes)} and {alert.short_burn_rate:.1f}x over the last "
            f"{duration_words(rule.short_window_minutes)} (alert at {rule.factor:g}x). {remaining:.0%} of the 30-day "
            f"budget remains ({remaining_seconds / 60:.1f} min)."
        ),
        url=slo_url(slo),
        services=[slo.service] if slo.service else [],
        recipients=[person] if person else [],
        source=f"slo:{slo.pk}",
        dedup_key=f"slo-burn:{alert.pk}",
        now=now,
    )


def _end(alert: BurnAlert, now: datetime) -> BurnAlert:
    alert.ended_at = now
    alert.save(update_fields=["ended_at"])
    slo = alert.slo
    notify(
        event=EventKind.SLO_BURN_ENDED,
        severity=policy.BURN_ALERT_SEVERITY[BurnRateRule.Action(alert.action)],
        title=f"SLO {slo.name}: {alert.rule.name.lower()} ended",
        summary=f"The burn that started at {alert.started_at:%Y-%m-%d %H:%M} UTC is below the alert's rate again.",
        url=slo_url(slo),
        services=[slo.service] if slo.service else [],
        source=f"slo:{slo.pk}",
        dedup_key=f"slo-burn:{alert.pk}",
        pager_action=PagerAction.RESOLVE,
        now=now,
    )
    return alert


def slo_refresh(
    *, slo: Slo, now: datetime | None = None, fetch: RangeQuery = query_range,
    oncall: policy.AssigneeResolver = policy.primary_oncall,
) -> list[BurnAlert]:  # fmt: skip
    """What beat does for each SLO every minute: read new values from Prometheus (if that is its source), then
    start or end burn-rate episodes."""
    now = now or timezone.now()
    if slo.active and slo.source == Slo.Source.PROMETHEUS:
        slo_fetch(slo=slo, now=now, fetch=fetch)
    return slo_evaluate(slo=slo, now=now, oncall=oncall)
