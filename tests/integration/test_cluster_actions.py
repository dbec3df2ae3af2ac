"""Cluster actions against real servers: Redis (database 13) and PostgreSQL data-store actions, and a real Celery
worker over Redis running an action against the simulator, including a worker killed mid-run."""

import os
import signal
import uuid

import psycopg
import pytest
import redis
from auditlog.models import LogEntry
from django.db import connection

from portal.cluster.models import ActionRun, Target
from portal.cluster.services import action_run_request, action_runs_reap
from portal.cluster.tasks import run_action
from portal.core.models import Environment
from portal.kubesim import Cluster, Simulator
from portal.kubesim.patching import STRATEGIC_MERGE_PATCH
from portal.kubesim.seed import add_deployment
from tests.cluster.conftest import datastore
from tests.integration.processes import RedisServer, celery_worker, portal_env, run_script, wait_for
from tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("freeze_rules_off")]
Status = ActionRun.Status
REDIS_DB = 13  # a database of its own: never the broker's 0


def execute(run: ActionRun) -> ActionRun:
    run_action(run.pk, run.requested_by_id)
    run.refresh_from_db()
    return run


def lines(run: ActionRun) -> list[str]:
    return list(run.lines.values_list("message", flat=True))


@pytest.fixture
def on_postgres(db):
    # The `db` fixture's rollback also means no task message is ever published from here (on-commit never fires).
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"


@pytest.fixture
def committed(django_db_serialized_rollback, transactional_db):
    """Committed rows, as another process sees them; the role groups come back afterwards."""
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    yield
    connection.close()


# -- Redis ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def cache(on_postgres):
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.ping()
    prefix = f"itest-{uuid.uuid4().hex[:8]}"
    yield datastore(Target.Kind.REDIS, url, Environment.STAGING), client, prefix
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()


def scans_and_keys(client: redis.Redis) -> tuple[int, int]:
    stats = client.info("commandstats")
    return stats.get("cmdstat_scan", {}).get("calls", 0), stats.get("cmdstat_keys", {}).get("calls", 0)


def test_delete_by_pattern_scans_in_batches_and_never_uses_keys(cache, people):
    target, client, prefix = cache
    client.mset({f"{prefix}:session:{n}": "x" for n in range(1200)} | {f"{prefix}:cart:{n}": "y" for n in range(5)})
    scans, keys = scans_and_keys(client)

    parameters = {"pattern": f"{prefix}:session:*", "batch_size": 100}
    run = action_run_request(requester=people.responder, target=target, kind="redis_delete_pattern", reason="r",
                             parameters=parameters, confirm=True)  # fmt: skip
    run = execute(run)

    assert run.status == Status.SUCCEEDED, run.error
    assert run.result == {"deleted": 1200}
    assert not list(client.scan_iter(match=f"{prefix}:session:*"))
    # SCAN may return a key twice while Redis rehashes the shrinking table: compare the keys, not the replies.
    assert set(client.scan_iter(match=f"{prefix}:cart:*")) == {f"{prefix}:cart:{n}".encode() for n in range(5)}
    after_scans, after_keys = scans_and_keys(client)
    assert after_keys == keys, "KEYS was never called"
    assert after_scans > scans + 1, "SCAN went through the keyspace in batches"
    assert sum(line.startswith("unlinked ") for line in lines(run)) > 1


def test_flushdb_empties_the_targets_database(cache, people):
    target, client, prefix = cache
    client.mset({f"{prefix}:k{n}": n for n in range(10)})

    run = execute(action_run_request(requester=people.responder, target=target, kind="redis_flush", parameters={},
                                     reason="poisoned cache", confirm=True))  # fmt: skip

    assert run.status == Status.SUCCEEDED, run.error
    assert run.before["keys"] >= 10
    assert (run.after, client.dbsize()) == ({"keys": 0}, 0)


def test_the_brokers_database_is_refused_even_when_it_moved_there_after_the_request(cache, people, settings):
    target, client, prefix = cache
    client.set(f"{prefix}:precious", "queued work")
    run = action_run_request(requester=people.responder, target=target, kind="redis_flush", parameters={},
                             reason="r", confirm=True)  # fmt: skip
    settings.CELERY_BROKER_URL = f"redis://localhost:6379/{REDIS_DB}"

    run = execute(run)

    assert run.status == Status.FAILED
    assert run.error.startswith("Refused: redis://127.0.0.1:6379/13 is the portal's own broker database")
    assert client.get(f"{prefix}:precious") == b"queued work"


# -- PostgreSQL ----------------------------------------------------------------------------------------------------


def test_idle_connections_are_terminated_and_the_portals_own_survive(on_postgres, people, settings):
    """Three idle connections of some application go; an idle connection of the portal's (named as the portal names
    its connections) and the portal's request connection stay."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    target = datastore(Target.Kind.POSTGRESQL, url, Environment.STAGING)
    idle = [psycopg.connect(url, application_name="itest-idle", autocommit=True) for _ in range(3)]
    portals = psycopg.connect(url, application_name=settings.DATABASE_APPLICATION_NAME, autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), current_setting('application_name')")
        portal_pid, portal_name = cursor.fetchone()

    def terminate(minutes: int) -> ActionRun:
        run = action_run_request(requester=people.responder, target=target, kind="pg_terminate_idle",
                                 parameters={"idle_minutes": minutes}, reason="pool full", confirm=True)  # fmt: skip
        return execute(run)

    too_young = terminate(5)
    assert (too_young.status, too_young.result["terminated"]) == (Status.SUCCEEDED, 0)

    run = terminate(0)

    assert run.status == Status.SUCCEEDED, run.error
    assert run.result["terminated"] == 3
    assert {entry["pid"] for entry in run.result["connections"]} == {conn.info.backend_pid for conn in idle}
    pid = min(conn.info.backend_pid for conn in idle)
    assert lines(run)[1].startswith(f"pid {pid} ({db['USER']}@127.0.0.1, itest-idle, idle since ")
    assert lines(run)[1].endswith("): terminated")
    for conn in idle:
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        conn.close()
    assert portals.execute("SELECT 1").fetchone() == (1,)
    portals.close()
    assert portal_name == settings.DATABASE_APPLICATION_NAME, "the portal names its own connections"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone() == (portal_pid,), "the portal's own connection is the same, alive"
    assert run.command.startswith(f"-- on postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}\nSELECT")


# -- a real worker ---------------------------------------------------------------------------------------------------

REQUEST = """
from django.db import transaction
from portal.accounts.models import User
from portal.cluster.models import Target
from portal.cluster.services import action_run_request
with transaction.atomic():
    run = action_run_request(requester=User.objects.get(username={user!r}), target=Target.objects.get(slug="sim"),
                             kind={kind!r}, parameters={parameters!r}, reason="integration", confirm=True)
print(run.pk)
"""
RESEND = """
from portal.cluster.models import ActionRun
from portal.cluster.tasks import run_action
run = ActionRun.objects.get(pk={pk})
run_action.apply_async((run.pk, run.requested_by_id))
"""


@pytest.fixture
def worker_setup(committed, k8s, tmp_path):
    """A private redis-server as the broker (no other session's worker takes these messages), the simulator on
    127.0.0.1 with a kubeconfig the worker process reads, and the environment for portal processes."""
    broker = RedisServer(free_port(), tmp_path)
    broker.start()
    cluster = Cluster()
    for node in ("node-1", "node-2"):
        cluster.add_node(node)
    add_deployment(cluster, "shop", "web", images=["shop/web:1", "shop/web:2"], replicas=2)
    with Simulator(cluster, tick=0.2) as simulator:
        kubeconfig = simulator.write_kubeconfig(tmp_path / "kubeconfig.yaml")
        env = portal_env(broker.url, tmp_path, KUBECONFIG=str(kubeconfig), ACTION_HEARTBEAT_SECONDS="1")
        yield cluster, env
    broker.stop()


def request_in_a_web_process(env: dict[str, str], user: str, kind: str, **parameters: object) -> ActionRun:
    out = run_script(REQUEST.format(user=user, kind=kind, parameters=parameters), env).stdout
    return ActionRun.objects.get(pk=int(out.strip().splitlines()[-1]))


def status_of(run: ActionRun) -> str:
    run.refresh_from_db()
    return run.status


def test_a_worker_runs_an_action_sent_on_commit_through_redis(worker_setup, people, tmp_path):
    cluster, env = worker_setup
    with celery_worker(env, tmp_path / "worker.log"):
        run = request_in_a_web_process(env, "cora", "scale", namespace="shop", deployment="web", replicas=4)

        assert wait_for(lambda: status_of(run) in {Status.SUCCEEDED, Status.FAILED}, timeout=60), (
            tmp_path / "worker.log"
        ).read_text()

    assert run.status == Status.SUCCEEDED, run.error
    assert cluster.get("deployments", "shop", "web")["spec"]["replicas"] == 4
    assert run.worker.startswith("celery@")
    assert lines(run)[1:] == ["scaled shop/web from 2 to 4 replicas", "succeeded: 2 → 4 replicas"]

    worker_entries = LogEntry.objects.get_for_object(run).filter(changes__icontains="running")
    assert {entry.actor.username for entry in worker_entries} == {"cora"}, "the task acts as the requester"


def test_a_killed_workers_run_is_abandoned_and_never_run_again(worker_setup, people, tmp_path, settings):
    cluster, env = worker_setup
    cluster.hold_pods = True
    new_image = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "shop/web:3"}]}}}}
    cluster.patch_deployment("shop", "web", STRATEGIC_MERGE_PATCH, new_image)
    with celery_worker(env, tmp_path / "worker.log") as worker:
        run = request_in_a_web_process(env, "rami", "rollout_status", namespace="shop", deployment="web",
                                       timeout_seconds=120)  # fmt: skip
        assert wait_for(lambda: status_of(run) == Status.RUNNING, timeout=60), (tmp_path / "worker.log").read_text()
        first_beat = run.heartbeat_at
        assert wait_for(lambda: ActionRun.objects.get(pk=run.pk).heartbeat_at > first_beat, timeout=10), "no beat"
        os.kill(worker.pid, signal.SIGKILL)  # mid-run: no outcome is ever recorded
        worker.wait(timeout=10)

    settings.ACTION_STALE_AFTER_SECONDS = 3
    assert wait_for(lambda: action_runs_reap().abandoned == 1, timeout=15)
    run.refresh_from_db()
    assert run.status == Status.ABANDONED
    assert "its outcome is unknown" in run.error

    # The broker hands the unacknowledged message to a worker again (here sent again at once, rather than after
    # the visibility timeout): it finds the run abandoned and does nothing.
    with celery_worker(env, tmp_path / "worker2.log"):
        run_script(RESEND.format(pk=run.pk), env)
        assert wait_for(lambda: "has nothing to do" in (tmp_path / "worker2.log").read_text(), timeout=60)
    run.refresh_from_db()
    assert run.status == Status.ABANDONED
    assert sum(line.startswith("started on") for line in lines(run)) == 1
