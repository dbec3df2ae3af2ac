import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.urls import reverse

from operations.charts import budget_chart_svg
from operations.models import BurnAlert, SliSample, Slo
from operations.prometheus import PrometheusError, query_range
from operations.selectors.slo import slo_budget_history, slo_list, slo_statuses
from operations.services.slo import sli_sample_record, slo_evaluate, slo_fetch, slo_refresh
from portal.accounts.roles import Role
from portal.errors import ApplicationError
from portal.notifications.models import EventKind, Notification, PagerAction
from tests.operations.conftest import T0
from tests.servers import http_server


def nobody(service, at):
    return None


class TestSamples:
    def test_records_a_value_measured_elsewhere(self, availability, responder):
        sample = sli_sample_record(slo=availability, start=T0 - timedelta(minutes=5), seconds=300, value=99.5,
                                   actor=responder, now=T0)  # fmt: skip
        assert (sample.end, sample.source, sample.recorded_by) == (T0, "api", responder)

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"value": 101}, "value"),  # a percentage
            ({"value": float("nan")}, "value"),
            ({"start": T0}, "start"),  # not over yet
            ({"seconds": 0}, "seconds"),
            ({"seconds": 2 * 86400}, "seconds"),
        ],
    )
    def test_bad_values_name_the_field(self, availability, change, field):
        args = {"start": T0 - timedelta(minutes=1), "seconds": 60, "value": 99.0} | change
        with pytest.raises(ApplicationError) as raised:
            sli_sample_record(slo=availability, actor=None, now=T0, **args)
        assert raised.value.field == field

    def test_overlapping_samples_are_refused(self, availability):
        sli_sample_record(slo=availability, start=T0 - timedelta(minutes=10), seconds=300, value=99, actor=None, now=T0)
        with pytest.raises(ApplicationError, match="Overlaps") as raised:
            sli_sample_record(slo=availability, start=T0 - timedelta(minutes=7), seconds=60, value=99, actor=None,
                              now=T0)  # fmt: skip
        assert raised.value.field == "start"
        sli_sample_record(slo=availability, start=T0 - timedelta(minutes=5), seconds=60, value=99, actor=None, now=T0)


class TestBurnAlerts:
    def test_a_fast_burn_pages_once_per_episode_and_says_when_it_ends(self, availability, api, add_samples):
        availability.service = api
        availability.save()
        add_samples(availability, value=95, minutes=65)  # 5% bad: 50x the sustainable rate

        started = slo_evaluate(slo=availability, now=T0, oncall=nobody)
        again = slo_evaluate(slo=availability, now=T0 + timedelta(seconds=30), oncall=nobody)

        assert {alert.rule.name for alert in started} == {"Fast burn", "Slow burn", "Budget drift"}
        assert again == []
        pages = Notification.objects.filter(event_kind=EventKind.SLO_BURN, dedup_key__startswith="slo-burn:")
        assert pages.count() == 3  # 95% is also a breach of the maximum acceptable: test_slo_breach.py
        fast = pages.get(title__contains="fast burn")
        assert fast.severity == "critical"
        assert "50.0x" in fast.title
        assert "over 1 h (page)" in fast.title
        assert list(fast.services.all()) == [api]
        assert pages.get(title__contains="budget drift").severity == "warning"  # a ticket, not a page

        # An hour and ten minutes of good values: the short windows stop both pages; the drift ticket goes on.
        add_samples(availability, value=100, minutes=70, end=T0 + timedelta(minutes=70))
        ended = slo_evaluate(slo=availability, now=T0 + timedelta(minutes=70), oncall=nobody)

        assert {alert.rule.name for alert in ended} == {"Fast burn", "Slow burn"}
        assert all(alert.ended_at for alert in ended)
        resolved = Notification.objects.filter(event_kind=EventKind.SLO_BURN_ENDED, dedup_key__startswith="slo-burn:")
        assert resolved.count() == 2
        assert {n.pager_action for n in resolved} == {PagerAction.RESOLVE}
        assert resolved.get(title__contains="fast burn").dedup_key == fast.dedup_key
        assert BurnAlert.objects.filter(ended_at__isnull=True).get().rule.name == "Budget drift"

    def test_the_page_goes_to_the_primary_on_call_the_resolver_names(self, availability, add_samples, responder):
        add_samples(availability, value=90, minutes=60)
        asked = []

        def oncall(service, at):
            asked.append((service, at))
            return responder

        slo_evaluate(slo=availability, now=T0, oncall=oncall)
        assert asked[0][1] == T0
        assert {list(n.recipients.all())[0] for n in Notification.objects.all()} == {responder}

    def test_a_steady_burn_at_budget_pace_only_opens_the_ticket(self, availability, add_samples):
        add_samples(availability, value=99.85, minutes=7 * 60)  # 1.5x: slow, but would spend the budget in 20 days
        started = slo_evaluate(slo=availability, now=T0, oncall=nobody)
        assert [alert.rule.name for alert in started] == ["Budget drift"]

    def test_no_data_fires_nothing(self, availability):
        assert slo_evaluate(slo=availability, now=T0, oncall=nobody) == []

    def test_an_inactive_slo_ends_its_episodes(self, availability, add_samples):
        add_samples(availability, value=90, minutes=60)
        slo_evaluate(slo=availability, now=T0, oncall=nobody)
        availability.active = False
        availability.save()
        ended = slo_evaluate(slo=availability, now=T0 + timedelta(minutes=1), oncall=nobody)
        assert len(ended) == 3
        assert not BurnAlert.objects.filter(ended_at__isnull=True).exists()

    def test_the_database_keeps_one_open_episode_per_rule(self, availability, add_samples):
        from django.db import IntegrityError, transaction

        add_samples(availability, value=90, minutes=60)
        alert = slo_evaluate(slo=availability, now=T0, oncall=nobody)[0]
        with pytest.raises(IntegrityError), transaction.atomic():
            BurnAlert.objects.create(slo=availability, rule=alert.rule, action=alert.action, started_at=T0,
                                     long_burn_rate=1, short_burn_rate=1, budget_remaining=1)  # fmt: skip


def matrix(*points, series=1):
    values = [[point[0], str(point[1])] for point in points]
    return {"status": "success", "data": {"resultType": "matrix",
                                          "result": [{"metric": {}, "values": values}] * series}}  # fmt: skip


class TestPrometheusClient:
    """The client over real HTTP against a loopback server answering like Prometheus."""

    def test_reads_a_range_and_skips_nan(self):
        start = T0.timestamp()
        routes = {("GET", "/api/v1/query_range"): (200, matrix((start, 99.5), (start + 60, "NaN"), (start + 120, 100)))}
        with http_server(routes) as server:
            points = query_range(base_url=server.url, query="up", start=T0, end=T0 + timedelta(minutes=2), step=60,
                                 timeout=2)  # fmt: skip
        assert [(p.at, p.value) for p in points] == [(T0, 99.5), (T0 + timedelta(minutes=2), 100.0)]
        assert "query=up" in server.requests[0].path
        assert "step=60" in server.requests[0].path

    @pytest.mark.parametrize(
        ("answer", "message"),
        [
            ((400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}), "parse error"),
            ((200, matrix((T0.timestamp(), 1), series=2)), "2 series"),
            ((200, {"status": "success", "data": {"resultType": "vector", "result": []}}), "range vector"),
        ],
    )
    def test_errors_say_why(self, answer, message):
        with (
            http_server({("GET", "/api/v1/query_range"): answer}) as server,
            pytest.raises(PrometheusError, match=message),
        ):
            query_range(base_url=server.url, query="x", start=T0, end=T0, step=60, timeout=2)

    def test_unreachable_server(self):
        with pytest.raises(PrometheusError, match="unreachable"):
            query_range(base_url="http://127.0.0.1:9", query="x", start=T0, end=T0, step=60, timeout=1)


class TestFetch:
    def test_fetch_reads_new_steps_once_and_records_errors(self, availability, settings):
        settings.SLI_STEP_SECONDS = 60
        calls = []

        def fetch(**kwargs):
            calls.append(kwargs)
            start, end = kwargs["start"], kwargs["end"]
            count = int((end - start).total_seconds() // 60) + 1
            return [type("P", (), {"at": start + timedelta(minutes=i), "value": 99.0})() for i in range(count)]

        availability.prometheus_url = "http://prometheus.invalid:9090"
        availability.save()
        assert slo_fetch(slo=availability, now=T0, fetch=fetch) > 0
        first = SliSample.objects.filter(slo=availability).count()
        assert first == 30 * 24 * 60  # a whole window on the first read, in several range queries
        assert len(calls) == 5
        assert SliSample.objects.order_by("-start").first().end == T0

        assert slo_fetch(slo=availability, now=T0 + timedelta(seconds=59), fetch=fetch) == 0  # no new step yet
        slo_fetch(slo=availability, now=T0 + timedelta(minutes=3), fetch=fetch)
        assert SliSample.objects.filter(slo=availability).count() == first + 3
        assert calls[-1]["start"] == T0 + timedelta(minutes=1)

        def failing(**kwargs):
            raise PrometheusError("Prometheus at x is unreachable")

        assert slo_fetch(slo=availability, now=T0 + timedelta(minutes=5), fetch=failing) == 0
        availability.refresh_from_db()
        assert availability.last_fetch_error == "Prometheus at x is unreachable"

    def test_without_a_server_the_error_says_what_to_set(self, availability, settings):
        settings.PROMETHEUS_URL = ""
        assert slo_fetch(slo=availability, now=T0) == 0
        availability.refresh_from_db()
        assert "PROMETHEUS_URL" in availability.last_fetch_error

    def test_refresh_of_an_api_slo_only_evaluates(self, db, add_samples):
        page_load = Slo.objects.get(slug="web-page-load")
        add_samples(page_load, value=9000, minutes=60)

        def never(**kwargs):
            raise AssertionError("an API SLO is never fetched")

        assert len(slo_refresh(slo=page_load, now=T0, fetch=never, oncall=nobody)) == 3


class TestChart:
    def test_the_line_follows_the_budget_and_escapes_the_title(self, availability, add_samples):
        add_samples(availability, value=0, minutes=20, end=T0 - timedelta(hours=2))  # 20 of 43.2 minutes spent
        points = slo_budget_history(slo=availability, now=T0)
        svg = budget_chart_svg(points=points, allowed_seconds=43.2 * 60, title="<API & co>")

        root = ET.fromstring(str(svg))  # noqa: S314 - our own output
        ns = "{http://www.w3.org/2000/svg}"
        assert root.tag == f"{ns}svg"
        line = root.find(f"{ns}polyline").get("points").split()
        assert len(line) == len(points) == 30 * 24 + 1  # the window's start, then each hour
        assert "<API &amp; co>" not in str(svg)
        assert "&lt;API &amp;amp; co&gt;" not in str(svg)
        assert root.find(f"{ns}title").text == "<API & co>: 54% of the error budget left"
        assert points[-1][1] == pytest.approx(20 * 60)

    def test_slo_page_draws_it(self, client, make_user, availability, add_samples):
        add_samples(availability, value=99, minutes=30)
        client.force_login(make_user(Role.VIEWER))
        html = client.get(reverse("slo-detail", args=[availability.slug])).content.decode()
        assert '<svg class="budget-chart"' in html
        assert "<script" not in html.split("<main", 1)[1]


class TestStatuses:
    def test_standing_against_target_and_maximum(self, db, add_samples):
        latency = Slo.objects.get(slug="api-latency")
        add_samples(latency, value=800, minutes=1)
        statuses = {status.slo.slug: status for status in slo_statuses(list(slo_list()), now=T0)}
        assert statuses["api-latency"].standing == "degraded"  # above 500 ms, within 2 s
        assert statuses["api-availability"].standing == "unknown"

    def test_slo_list_page_queries_do_not_grow_with_slos(self, client, make_user, django_assert_max_num_queries):
        client.force_login(make_user(Role.VIEWER))
        client.get(reverse("slo-list"))
        with django_assert_max_num_queries(8):
            response = client.get(reverse("slo-list"))
        assert response.status_code == 200
        assert "API availability" in response.content.decode()
