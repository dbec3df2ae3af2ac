"""gunicorn's settings (read from the working directory): `gunicorn portal.wsgi` in the container.

Its workers count requests into PROMETHEUS_MULTIPROC_DIR when set, which /metrics adds up; a dead worker's live
gauges are dropped, and the folder starts empty.
"""

import os
import shutil
from pathlib import Path

from prometheus_client import multiprocess

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 60
graceful_timeout = 30
accesslog = None  # Django logs each request (with its id and user) and /metrics counts them
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server: object) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def post_worker_init(worker: object) -> None:
    """Import every view, then move everything startup allocated out of the garbage collector's reach (gc.freeze):
    its full collections otherwise walk those objects, stalling about one request in a hundred by ~250 ms."""
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - loading the URLconf imports the views
    gc.freeze()
