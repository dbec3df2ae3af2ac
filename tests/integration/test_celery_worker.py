"""A real Celery worker process consumes from Redis and writes to PostgreSQL."""

import time
import uuid

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction

from portal.core.models import WorkerHeartbeat
from portal.core.tasks import worker_heartbeat
from tests.integration.processes import celery_worker, portal_env, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def worker(django_db_serialized_rollback, transactional_db, tmp_path):
    """A worker on a private queue, pointed at the test database, started as `celery -A portal worker`.

    Serialized rollback puts the migrations' data (role groups) back after the flush.
    """
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "integration tests must use Redis as the broker"
    redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=3).ping()

    name = f"itest-{uuid.uuid4().hex[:8]}"
    env = portal_env(settings.CELERY_BROKER_URL, tmp_path)
    with celery_worker(env, tmp_path / "worker.log", "-Q", name, "-n", f"{name}@%h"):
        yield name
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
