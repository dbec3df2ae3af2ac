"""The lists' default orders and the public status page's reads have an index PostgreSQL can use, however large the
table grows (issue 13: lists stay flat). Each read is captured as the request makes it and planned again with
sequential scans priced out: the plan names the index meant for it, or the index no longer fits the query."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident
from incidents.models import Severity as IncidentSeverity
from maintenance import selectors
from portal.accounts.roles import Role
from portal.cluster.models import ActionRun, Target
from portal.core.models import Environment
from portal.notifications.models import Channel, Delivery, EventKind, Notification, Severity
from tests.incidents.alertmanager import alert, payload, webhook_client

ALERTMANAGER_URL = "/api/v1/integrations/alertmanager/"

pytestmark = pytest.mark.integration


def planned_indexes(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = on")
    return plan


def row_reads(table: str, captured: list[dict[str, str]]) -> list[str]:
    """The reads of `table`'s rows (not counts, not other tables' reads naming it)."""
    return [query["sql"] for query in captured if query["sql"].startswith(f'SELECT "{table}".')]


def failed_rows(user) -> None:
    """A failed action run and a failed delivery, written as they stand (their services are tested elsewhere)."""
    target = Target.objects.create(name="cache", slug="cache", kind=Target.Kind.REDIS, url="redis://127.0.0.1/13",
                                   environment=Environment.PRODUCTION)  # fmt: skip
    ActionRun.objects.create(kind="redis_flush", target=target, environment=Environment.PRODUCTION, reason="stale",
                             requested_by=user, command="FLUSHDB", status=ActionRun.Status.FAILED)  # fmt: skip
    notification = Notification.objects.create(event_kind=EventKind.TEST, severity=Severity.INFO, title="Test")
    Delivery.objects.create(notification=notification, channel=Channel.objects.first(), recipient_key="ops",
                            status=Delivery.Status.FAILED, next_attempt_at=timezone.now())  # fmt: skip


@pytest.fixture
def postgres(db):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (set DATABASE_URL)"


@pytest.mark.parametrize(
    ("url", "table", "index"),
    [
        ("/api/v1/incidents/", "incidents_incident", "incident_detected_idx"),
        ("/api/v1/incidents/?open=true", "incidents_incident", "incident_open_detected_idx"),
        ("/api/v1/alerts/", "incidents_alert", "alert_received_idx"),
        ("/api/v1/actions/", "cluster_actionrun", "actionrun_created_idx"),
        ("/api/v1/actions/?status=failed", "cluster_actionrun", "actionrun_status_created_idx"),
        ("/api/v1/notifications/deliveries/", "notifications_delivery", "delivery_created_idx"),
        ("/api/v1/notifications/deliveries/?status=failed", "notifications_delivery", "delivery_status_created_idx"),
        ("/api/v1/audit/", "auditlog_logentry", "core_logentry_timestamp_id_idx"),
    ],
)
def test_a_lists_page_is_read_in_its_index_order(postgres, token_client, admin_user, url, table, index):
    _integration, webhook = webhook_client()
    sent = webhook.post(ALERTMANAGER_URL, payload(alert("HighErrorRate", service="api")), format="json")
    assert sent.status_code == 200, sent.content  # an alert, and the open incident it opens
    failed_rows(admin_user)  # an empty list reads no page
    api = token_client(Role.ADMIN)  # the audit log is for Admins
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(url).status_code == 200
    page = next(sql for sql in row_reads(table, ctx.captured_queries) if "LIMIT" in sql)
    assert index in planned_indexes(page)


def test_the_status_page_reads_only_public_incidents_by_resolution(postgres):
    # The incidents as a running portal holds them, few public among many, and the statistics to say so: the plan
    # must not follow whatever earlier tests' rolled-back rows left in a test database's statistics.
    p1, now = IncidentSeverity.objects.get(code="P1"), timezone.now()
    Incident.objects.bulk_create(
        Incident(title=f"Past #{i}", severity=p1, status=Incident.Status.CLOSED, is_public=i % 100 == 0,
                 detected_at=now - timedelta(hours=i), resolved_at=now - timedelta(hours=i) + timedelta(minutes=30),
                 closed_at=now - timedelta(hours=i) + timedelta(hours=1), ack_due_at=now - timedelta(hours=i))
        for i in range(1, 2001)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE incidents_incident")
    with CaptureQueriesContext(connection) as ctx:
        selectors.status_page(now=timezone.now())
    reads = [query["sql"] for query in ctx.captured_queries if 'FROM "incidents_incident"' in query["sql"]]
    resolved_since = [sql for sql in reads if '"incidents_incident"."resolved_at" >' in sql]
    assert len(resolved_since) == 2  # past incidents, and the uptime history's spans
    for sql in resolved_since:
        assert "incident_public_resolved_idx" in planned_indexes(sql)


def test_the_incident_apis_owning_teams_are_found_from_the_alert_names_index(postgres, token_client):
    """The owning team is matched by the distinct names of an incident's alerts (`incidents_alertnames`): the index
    holding both answers it, without reading the alerts themselves once the table is vacuumed (a storm's incident
    holds hundreds)."""
    _integration, webhook = webhook_client()
    sent = webhook.post(ALERTMANAGER_URL, payload(alert("HighErrorRate", service="api")), format="json")
    assert sent.status_code == 200, sent.content
    with CaptureQueriesContext(connection) as ctx:
        assert token_client(Role.VIEWER).get("/api/v1/incidents/").status_code == 200
    owners = next(
        query["sql"] for query in ctx.captured_queries if query["sql"].startswith('SELECT DISTINCT "incidents_alert".')
    )
    # Index only, once the table is vacuumed; a plain index or bitmap scan before (a test database's statistics).
    assert "alert_incident_name_idx" in planned_indexes(owners)
