"""A Celery worker's own metrics: tasks by name and outcome, their duration, and when each last succeeded (how a
stale sweep shows). Served by the worker's main process on CELERY_METRICS_PORT; with the prefork pool the children
count into PROMETHEUS_MULTIPROC_DIR, which the server reads."""

import os
import shutil
import time
from pathlib import Path
from typing import Any

from celery import signals
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server

TASKS = Counter("portal_celery_tasks_total", "Tasks run by this worker, by outcome.", ["task", "outcome"])
TASK_DURATION = Histogram(
    "portal_celery_task_duration_seconds",
    "Time a task ran.",
    ["task"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
LAST_SUCCESS = Gauge(
    "portal_celery_task_last_success_timestamp_seconds",
    "Unix time a task last succeeded (beat's sweeps included).",
    ["task"],
    multiprocess_mode="max",
)
_started: dict[str, float] = {}


@signals.task_prerun.connect
def _task_started(task_id: str, **kwargs: Any) -> None:
    _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_finished(task_id: str, task: Any, state: str | None = None, **kwargs: Any) -> None:
    started = _started.pop(task_id, None)
    if started is not None:
        TASK_DURATION.labels(task.name).observe(time.perf_counter() - started)
    TASKS.labels(task.name, (state or "unknown").lower()).inc()
    if state == "SUCCESS":
        LAST_SUCCESS.labels(task.name).set(time.time())


@signals.worker_init.connect
def _fresh_multiprocess_folder(**kwargs: Any) -> None:
    """Before the pool forks: the folder the children count into exists and holds nothing from a previous run."""
    if folder := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


@signals.worker_ready.connect
def _serve_metrics(**kwargs: Any) -> None:
    port = settings.CELERY_METRICS_PORT
    if not port:
        return
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=os.environ.get("CELERY_METRICS_ADDR", "0.0.0.0"), registry=registry)  # noqa: S104


@signals.worker_process_shutdown.connect
def _child_exited(pid: int | None = None, **kwargs: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]
