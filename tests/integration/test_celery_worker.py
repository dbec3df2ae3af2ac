"""A real Celery worker process consumes from Redis and writes to PostgreSQL."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction

from portal.core.models import WorkerHeartbeat
from portal.core.tasks import worker_heartbeat

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.fixture
def worker(django_db_serialized_rollback, transactional_db, tmp_path):
    """A worker on a private queue, pointed at the test database, started as `celery -A portal worker`.

    Serialized rollback puts the migrations' data (role groups) back after the flush.
    """
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "integration tests must use Redis as the broker"
    redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=3).ping()

    db = connection.settings_dict
    name = f"itest-{uuid.uuid4().hex[:8]}"
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PORTAL_VAR_DIR": str(tmp_path),
    }
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "-Q", name, "-n", f"{name}@%h",
         "--without-gossip", "--without-mingle", "--loglevel=INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield name
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        connection.close()


def test_worker_runs_a_task_sent_through_redis_and_writes_to_postgres(worker):
    worker_heartbeat.apply_async(queue=worker)

    assert wait_for(lambda: WorkerHeartbeat.objects.filter(hostname__startswith=f"{worker}@").exists()), (
        "the worker did not record its heartbeat within 30 s"
    )


def test_work_enqueued_on_commit_is_sent_only_when_the_transaction_commits(worker):
    def enqueue_then_fail() -> None:
        with transaction.atomic():
            transaction.on_commit(lambda: worker_heartbeat.apply_async(queue=worker))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        enqueue_then_fail()
    time.sleep(2)  # time enough for the worker to have run a task, had one been sent
    assert not WorkerHeartbeat.objects.exists()

    with transaction.atomic():
        transaction.on_commit(lambda: worker_heartbeat.apply_async(queue=worker))
    assert wait_for(lambda: WorkerHeartbeat.objects.exists())
