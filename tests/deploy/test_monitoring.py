"""The Prometheus rules and the Grafana dashboard shipped in deploy/: valid, and about metrics the portal exposes.
(tests/integration/test_metrics_scrape.py runs the dashboard's queries against a real Prometheus.)"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from portal.core import metrics, worker_metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/prometheus/portal-rules.yml"
DASHBOARD = ROOT / "deploy/grafana/ops-portal-dashboard.json"
# Every series the portal, its workers and Prometheus itself (`up`) expose, with the suffixes of histograms.
EXPOSED = {
    "up",
    "portal_incidents_open",
    "portal_incidents_unacknowledged",
    "portal_notification_deliveries",
    "portal_action_runs",
    "portal_beat_heartbeat_age_seconds",
    "portal_celery_queue_depth",
    "portal_audit_chain_ok",
    "portal_celery_tasks_total",
    "portal_celery_task_last_success_timestamp_seconds",
    *(f"{histogram._name}_{suffix}" for histogram in (metrics.REQUEST_DURATION, worker_metrics.TASK_DURATION)
      for suffix in ("bucket", "count", "sum")),
}  # fmt: skip


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (`make prometheus`)")
    return path


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(portal_[a-z_]+|up)\b(?=\s*[{\[)])", expr))


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_promtool_accepts_the_rules():
    result = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_fire_as_their_unit_tests_say():
    """Worker down, a stale sweep and failing notifications fire; healthy series do not."""
    result = subprocess.run(
        [promtool(), "test", "rules", "portal-rules.test.yml"],
        cwd=Path(__file__).parent, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_and_dashboard_use_only_exposed_metrics():
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    assert {"PortalWorkerDown", "PortalSweepsStale", "PortalNotificationsFailing"} <= {r["alert"] for r in rules}
    for expr in [rule["expr"] for rule in rules] + dashboard_queries():
        assert metric_names(expr), expr
        assert metric_names(expr) <= EXPOSED, expr
