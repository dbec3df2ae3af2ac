"""Worker and beat write JSON lines; a task carries the request id (and user) of the request that enqueued it."""

import json
import os
import subprocess
import sys
import uuid

import pytest
import structlog
from django.conf import settings
from django.db import connection

from portal.core.models import WorkerHeartbeat
from portal.core.tasks import worker_heartbeat
from tests.integration.processes import ROOT, celery_worker, portal_env, wait_for

pytestmark = pytest.mark.integration


def json_lines(path) -> list[dict]:
    """The log records. Celery prints its start-up banner (left out by `celery -q`, as the manifests run it) and, as
    root only, a warning before logging is set up: those lines are not records."""
    text = path.read_text()
    assert text.strip(), "nothing was logged"
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_task_logs_the_request_id_that_enqueued_it(django_db_serialized_rollback, transactional_db, tmp_path):
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    queue = f"itest-{uuid.uuid4().hex[:8]}"
    env = portal_env(settings.CELERY_BROKER_URL, tmp_path, LOG_FORMAT="json")
    log = tmp_path / "worker.log"
    with celery_worker(env, log, "-Q", queue, "-n", f"{queue}@%h"):
        # What RequestLogMiddleware binds while a view runs and its transaction commits.
        with structlog.contextvars.bound_contextvars(request_id="req-4242", user="cora"):
            worker_heartbeat.apply_async(queue=queue)
        worker_heartbeat.apply_async(queue=queue)  # enqueued outside any request: beat's case
        assert wait_for(lambda: WorkerHeartbeat.objects.exists())
        assert wait_for(lambda: len([line for line in json_lines(log) if "succeeded" in line["event"]]) >= 2), (
            log.read_text()[-2000:]
        )

    done = [line for line in json_lines(log) if "succeeded" in line["event"]]
    assert {line["task"] for line in done} == {"portal.core.tasks.worker_heartbeat"}
    assert [(line.get("request_id"), line.get("user")) for line in done] == [("req-4242", "cora"), (None, None)]
    assert all(line["task_id"] for line in done)
    assert any(line["event"].endswith(" ready.") for line in json_lines(log))
    connection.close()


def test_beat_logs_json(tmp_path):
    environment = os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PORTAL_VAR_DIR": str(tmp_path),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO",
         f"--schedule={tmp_path / 'beat-schedule'}"],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    log = tmp_path / "beat.log"
    try:
        lines: list[str] = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "beat: Starting" in line or len(lines) > 50:
                break
    finally:
        process.terminate()
        process.wait(timeout=30)
    log.write_text("".join(lines))
    records = json_lines(log)
    assert any("beat: Starting" in record["event"] for record in records), lines
    assert all({"event", "level", "logger", "timestamp"} <= set(record) for record in records)
