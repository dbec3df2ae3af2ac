"""A real Prometheus scrapes the portal's /metrics (with the bearer token) and a Celery worker's own metrics."""

import shutil
import uuid
from urllib.parse import urlsplit

import pytest
from django.db import connection

from incidents.models import Incident, Severity
from portal.core.tasks import worker_heartbeat
from tests.deploy.test_monitoring import dashboard_queries
from tests.integration.processes import PrometheusServer, celery_worker, portal_env, wait_for
from tests.servers import free_port

pytestmark = pytest.mark.integration
TOKEN = "scrape-token-" + "s" * 30


def test_prometheus_scrapes_the_web_and_a_worker(
    django_db_serialized_rollback, transactional_db, live_server, tmp_path, settings
):
    if not shutil.which("prometheus"):
        pytest.fail("Prometheus is not installed: `make prometheus` (apt-get install prometheus)")
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    settings.METRICS_TOKEN = TOKEN  # the live server runs in this process: it reads these settings
    Incident.objects.create(title="Checkout down", severity=Severity.objects.get(code="P1"),
                            detected_at="2026-11-24T10:00Z")  # fmt: skip
    web = urlsplit(live_server.url).netloc
    worker_port = free_port()
    queue = f"itest-{uuid.uuid4().hex[:8]}"
    scrape = f"""scrape_configs:
  - job_name: portal-web
    scrape_interval: 1s
    authorization: {{credentials: {TOKEN}}}
    static_configs: [{{targets: ["{web}"]}}]
  - job_name: portal-worker
    scrape_interval: 1s
    static_configs: [{{targets: ["127.0.0.1:{worker_port}"]}}]
"""
    # The worker counts in multiprocess mode, as in its container (the folder does not exist yet, as there).
    env = portal_env(
        settings.CELERY_BROKER_URL, tmp_path, CELERY_METRICS_PORT=str(worker_port), CELERY_METRICS_ADDR="127.0.0.1",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
    )  # fmt: skip
    prometheus = PrometheusServer(free_port(), tmp_path, scrape_configs=scrape)
    with celery_worker(env, tmp_path / "worker.log", "-Q", queue, "-n", f"{queue}@%h"):
        worker_heartbeat.apply_async(queue=queue)
        prometheus.start()
        try:
            assert wait_for(lambda: prometheus.query('portal_incidents_open{job="portal-web",severity="P1"} == 1'),
                            timeout=60), prometheus.query("up")  # fmt: skip
            assert wait_for(
                lambda: prometheus.query(
                    'portal_celery_tasks_total{job="portal-worker",task="portal.core.tasks.worker_heartbeat",'
                    'outcome="success"} >= 1'
                ),
                timeout=60,
            ), (tmp_path / "worker.log").read_text()[-2000:]
            assert prometheus.query('portal_celery_task_last_success_timestamp_seconds{job="portal-worker"} > 0')
            # A scrape's own request is counted once it is answered: the next scrape reports it.
            assert wait_for(
                lambda: prometheus.query(
                    'portal_http_request_duration_seconds_count{job="portal-web",view="metrics"} > 0'
                ),
                timeout=30,
            ), prometheus.query("up")
            for expr in dashboard_queries():  # each Grafana panel's query parses and evaluates
                prometheus.query(expr)
        finally:
            prometheus.stop()
    connection.close()
