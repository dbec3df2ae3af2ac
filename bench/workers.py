"""Worker-side targets: notification fan-out (1,000 emails to a local SMTP server) and a cluster action's wait from
queued to running, each on a real Celery worker with two processes."""

import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiosmtpd.controller import Controller
from data import bench_target  # bench/data.py
from django.db import transaction

from portal.accounts.models import User
from portal.cluster.models import ActionKind, ActionRun
from portal.cluster.services import action_run_request
from portal.notifications.models import Delivery, EventKind, Severity, Subscription
from portal.notifications.services import notify

ROOT = Path(__file__).resolve().parent.parent
EMAILS = 1000
ACTION_RUNS = 10


class Counting:
    """An SMTP server that accepts everything and counts the messages."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def] # noqa: N802
        with self.lock:
            self.count += 1
        return "250 OK"


@contextmanager
def worker(env: dict[str, str], smtp_port: int) -> Iterator[None]:
    log = tempfile.NamedTemporaryFile("w", prefix="bench-worker-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--concurrency=2", "--without-gossip",
         "--without-mingle", "--loglevel=INFO"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        # LOG_LEVEL=INFO: the runner's WARNING would hide the "ready." line waited for below.
        env=env | {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp_port), "LOG_LEVEL": "INFO",
                   "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "ready." not in Path(log.name).read_text():
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"the Celery worker did not start; see {log.name}")
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


def measure_workers(env: dict[str, str], world) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    user = User.objects.get(pk=world.user_id)
    handler = Counting()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    results = {}
    try:
        with worker(env, port):
            for name, measure in (
                ("notification fan-out", lambda: _fan_out(handler, user)),
                ("cluster action queued->running", lambda: _cluster_action(user, env["CELERY_BROKER_URL"])),
            ):
                try:
                    results[name] = measure()
                except Exception as exc:  # noqa: BLE001 - report it and go on with the other targets
                    results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        smtp.stop()
    return results


def _fan_out(handler: Counting, user: User) -> dict[str, float | int]:
    existing = Subscription.objects.filter(email__startswith="bench-", email__endswith="@example.com").count()
    Subscription.objects.bulk_create(
        [
            Subscription(email=f"bench-{i}@example.com", event_kinds=[EventKind.MAINTENANCE_SCHEDULED])
            for i in range(existing, EMAILS)
        ]
    )
    started = time.perf_counter()
    with transaction.atomic():
        notification = notify(
            event=EventKind.MAINTENANCE_SCHEDULED,
            severity=Severity.INFO,
            title="Bench maintenance notice",
            summary="Sent by the benchmark.",
            created_by=user,
        )
    deliveries = Delivery.objects.filter(notification=notification)
    pending = [Delivery.Status.QUEUED, Delivery.Status.SENDING]
    deadline = time.monotonic() + 300
    while deliveries.filter(status__in=pending).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    delivered = deliveries.filter(status=Delivery.Status.DELIVERED).count()
    return {
        "emails": delivered,
        "smtp_received": handler.count,
        "seconds": round(elapsed, 2),
        "emails_per_s": round(delivered / elapsed, 1),
    }


def _cluster_action(user: User, broker_url: str) -> dict[str, float | int]:
    """A key-pattern delete that matches nothing, on a Redis database beside the broker's (actions refuse the
    broker's own): what is measured is the worker's pick-up, not the action."""
    base, _, db = broker_url.rpartition("/")
    url = f"{base}/{(int(db or 0) + 8) % 16}"
    target = bench_target(url=url)
    waits = []
    for _ in range(ACTION_RUNS):
        run = action_run_request(
            requester=user,
            target=target,
            kind=ActionKind.REDIS_DELETE_PATTERN,
            parameters={"pattern": "portal-bench-nothing:*"},
            reason="benchmark: queued -> running",
            confirm=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.started_at is not None:
                break
            time.sleep(0.01)
        if run.started_at is not None and run.queued_at is not None:
            waits.append((run.started_at - run.queued_at).total_seconds() * 1000)
        # let it finish before the next, so each measures an idle worker's pick-up
        while run.status in {ActionRun.Status.QUEUED, ActionRun.Status.RUNNING} and time.monotonic() < deadline:
            time.sleep(0.02)
            run.refresh_from_db()
    return {
        "runs": len(waits),
        "p50_ms": round(statistics.median(waits), 1) if waits else -1,
        "max_ms": round(max(waits), 1) if waits else -1,
    }
