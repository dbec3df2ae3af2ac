"""SLIs from a real Prometheus: Debian's `prometheus`, its TSDB backfilled by `promtool` with three hours of request
counters in which the last 70 minutes fail 5% of requests."""

import shutil

import pytest
from django.utils import timezone

from incidents.models import Service
from operations.models import BurnAlert, SliSample, Slo
from operations.services.slo import slo_refresh
from portal.notifications.models import EventKind, Notification
from tests.integration.processes import PrometheusServer
from tests.servers import free_port

pytestmark = pytest.mark.integration

ERROR_RATE = 'sum(rate(http_requests_total{job="broxiva-api",status=~"5.."}[5m])) / sum(rate(http_requests_total{job="broxiva-api"}[5m])) * 100'  # noqa: E501


def request_counters(now: float) -> str:
    """OpenMetrics text: 1,000 requests a minute for three hours; 5% of them fail during the last 70 minutes."""
    ok = failed = 0
    rows = []
    for at in range(int(now) - 3 * 3600, int(now), 60):
        burning = at > now - 70 * 60
        ok += 950 if burning else 1000
        failed += 50 if burning else 0
        rows.append((at, ok, failed))
    lines = ["# HELP http_requests Requests served.", "# TYPE http_requests counter"]
    lines += [f'http_requests_total{{job="broxiva-api",status="200"}} {ok} {at}' for at, ok, _ in rows]
    lines += [f'http_requests_total{{job="broxiva-api",status="500"}} {failed} {at}' for at, _, failed in rows]
    return "\n".join([*lines, "# EOF", ""])


@pytest.fixture
def prometheus(tmp_path):
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.fail("Prometheus is not installed: `make prometheus` (apt-get install prometheus)")
    server = PrometheusServer(free_port(), tmp_path)
    server.backfill(request_counters(timezone.now().timestamp()))
    server.start()
    yield server
    server.stop()


def test_error_rate_from_prometheus_pages_once_per_episode(db, prometheus, settings):
    settings.PROMETHEUS_URL = prometheus.url
    api = Service.objects.create(name="API", slug="api", tier=Service.Tier.CRITICAL)
    slo = Slo.objects.get(slug="api-error-rate")
    slo.promql, slo.service = ERROR_RATE, api
    slo.save()

    started = slo_refresh(slo=slo, now=timezone.now(), oncall=lambda service, at: None)

    slo.refresh_from_db()
    assert slo.last_fetch_error == ""
    values = list(SliSample.objects.filter(slo=slo).order_by("start").values_list("value", flat=True))
    assert 150 <= len(values) <= 185  # one per minute where the 5-minute rate has data
    assert values[0] == pytest.approx(0.0)
    assert values[-1] == pytest.approx(5.0)
    assert {alert.rule.name for alert in started} == {"Fast burn", "Slow burn", "Budget drift"}
    fast = BurnAlert.objects.get(rule__name="Fast burn")
    assert fast.long_burn_rate > 14.4
    assert fast.short_burn_rate == pytest.approx(50, rel=0.05)

    again = slo_refresh(slo=slo, now=timezone.now(), oncall=lambda service, at: None)

    assert again == []
    notices = Notification.objects.filter(event_kind=EventKind.SLO_BURN)
    burns = notices.exclude(title__contains="breached")
    assert burns.count() == 3  # one per burn-rate rule, not again on the second refresh
    assert notices.filter(title__startswith="SLO API error rate breached: 5%").count() == 1  # over max acceptable, once


def test_a_bad_query_is_recorded_not_raised(db, prometheus, settings):
    settings.PROMETHEUS_URL = prometheus.url
    slo = Slo.objects.get(slug="api-latency")
    slo.promql = "sum(rate(http_requests_total[5m]"
    slo.save()
    slo_refresh(slo=slo, now=timezone.now(), oncall=lambda service, at: None)
    slo.refresh_from_db()
    assert "parse error" in slo.last_fetch_error
    assert not slo.samples.exists()
