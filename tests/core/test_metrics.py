"""/metrics: who may read it, and what it says about the portal's state."""

import ipaddress
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from incidents.models import Incident, Severity
from portal.cluster.models import ActionKind, ActionRun, Target
from portal.core.models import Environment, WorkerHeartbeat
from portal.notifications.models import Channel, Delivery, EventKind, Notification

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TOKEN = "metrics-token-" + "m" * 30


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def get() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return get


def incident(code: str, status: str = Incident.Status.INVESTIGATING, **fields) -> Incident:
    severity = Severity.objects.get(code=code)
    return Incident.objects.create(title=f"{code} trouble", severity=severity, status=status, detected_at=T0, **fields)


def test_metrics_need_the_token_or_an_allowed_address(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200

    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403  # an empty token opens nothing
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1").status_code == 403
    # A forwarded address is never the client's here, and a relayed request (an Ingress's, from inside the allowed
    # network) is not direct: only the token opens it.
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="203.0.113.9",
                          HTTP_AUTHORIZATION=f"Bearer {TOKEN}")  # fmt: skip
    assert response.status_code == 200


def test_detailed_health_answers_monitoring_without_a_user(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/api/health/detailed").status_code == 401
    response = client.get("/api/health/detailed", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code in {200, 503}
    assert set(response.json()["components"]) >= {"database", "broker", "worker"}


def test_state_gauges(db, scrape, make_user, time_machine):
    time_machine.move_to(T0, tick=False)
    incident("P1")
    incident("P1", acknowledged_at=T0)
    incident("P2", acknowledged_at=T0)
    incident("P3", status=Incident.Status.RESOLVED)
    channel = Channel.objects.get(name="Slack #critical")
    notification = Notification.objects.create(event_kind=EventKind.INCIDENT_UPDATED, severity="critical", title="x")
    for key, status in [("a", "queued"), ("b", "failed"), ("c", "failed"), ("d", "delivered")]:
        Delivery.objects.create(notification=notification, channel=channel, recipient_key=key, status=status,
                                next_attempt_at=T0)  # fmt: skip
    target = Target.objects.create(name="Prod", slug="prod", kind=Target.Kind.KUBERNETES,
                                   environment=Environment.PRODUCTION)  # fmt: skip
    ActionRun.objects.create(kind=ActionKind.SCALE, target=target, environment=Environment.PRODUCTION, reason="load",
                             requested_by=make_user(), status=ActionRun.Status.FAILED)  # fmt: skip
    WorkerHeartbeat.objects.create(hostname="celery@w1", last_seen=datetime(2026, 11, 24, 9, 59, 15, tzinfo=UTC))

    values = scrape()

    assert values[("portal_incidents_open", (("severity", "P1"),))] == 2
    assert values[("portal_incidents_open", (("severity", "P2"),))] == 1
    assert ("portal_incidents_open", (("severity", "P3"),)) not in values
    assert values[("portal_incidents_unacknowledged", ())] == 1
    assert values[("portal_notification_deliveries", (("channel", "Slack #critical"), ("state", "queued")))] == 1
    assert values[("portal_notification_deliveries", (("channel", "Slack #critical"), ("state", "failed")))] == 2
    assert values[("portal_action_runs", (("state", "failed"),))] == 1
    assert values[("portal_action_runs", (("state", "running"),))] == 0
    assert values[("portal_beat_heartbeat_age_seconds", ())] == 45
    assert values[("portal_celery_queue_depth", (("queue", "celery"),))] >= 0
    assert values[("portal_audit_chain_ok", ())] == 1


def test_request_latency_by_view_and_status(client, db, scrape):
    before = scrape().get(("portal_http_request_duration_seconds_count", _labels("health", "200")), 0)
    client.get("/api/health")
    client.get("/api/health")
    client.get("/no-such-page/")

    values = scrape()

    assert values[("portal_http_request_duration_seconds_count", _labels("health", "200"))] == before + 2
    assert values[("portal_http_request_duration_seconds_count", _labels("<unresolved>", "404"))] >= 1


def _labels(view: str, status: str) -> tuple[tuple[str, str], ...]:
    return (("method", "GET"), ("status", status), ("view", view))


def test_a_scrape_costs_the_same_queries_whatever_the_data(db, scrape, client, settings):
    settings.METRICS_TOKEN = TOKEN

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        return len(captured)

    incident("P1")
    few = queries()
    for code in ["P1", "P2", "P3", "P4"] * 5:
        incident(code)
    assert queries() == few
