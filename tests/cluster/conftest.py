"""A simulated Kubernetes API server in-process on a free port, the adapter's settings pointed at it, and the people
and targets the cluster action tests share."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from kubernetes import client, config

from portal import kube
from portal.accounts.models import User
from portal.accounts.roles import Role
from portal.cluster.models import Namespace, Target
from portal.core.models import Environment
from portal.kubesim import Cluster, ManualClock, Simulator
from portal.kubesim.seed import add_deployment

NODES = ("node-1", "node-2", "node-3")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def cluster(clock: ManualClock) -> Cluster:
    cluster = Cluster(clock=clock)
    for name in NODES:
        cluster.add_node(name)
    return cluster


@pytest.fixture
def simulator(cluster: Cluster, settings, tmp_path) -> Iterator[Simulator]:
    with Simulator(cluster) as running:
        settings.KUBECONFIG = str(running.write_kubeconfig(tmp_path / "kubeconfig.yaml"))
        settings.KUBE_CONTEXT = None
        kube._api_client.cache_clear()
        yield running
    kube._api_client.cache_clear()


@pytest.fixture
def api(simulator: Simulator, settings) -> Iterator[client.ApiClient]:
    """The official client, configured from the kubeconfig the simulator wrote."""
    api_client = config.new_client_from_config(config_file=settings.KUBECONFIG)
    yield api_client
    api_client.close()


# -- cluster actions ---------------------------------------------------------------------------------------------

PROD_NS, STAGING_NS, DEV_NS = "shop", "shop-staging", "sandbox"


@pytest.fixture(autouse=True)
def _no_heartbeat_thread_writes(settings):
    """The heartbeat thread writes on a connection of its own, which cannot see a test's uncommitted rows (and on
    SQLite waits for its lock); the integration tests, with a real worker and committed rows, run it for real."""
    settings.ACTION_HEARTBEAT_SECONDS = 3600


@dataclass
class People:
    viewer: User
    responder: User
    commander: User
    second_commander: User
    admin: User


@pytest.fixture
def people(make_user) -> People:
    return People(
        viewer=make_user(Role.VIEWER, username="vera"),
        responder=make_user(Role.RESPONDER, username="rami"),
        commander=make_user(Role.INCIDENT_COMMANDER, username="cora"),
        second_commander=make_user(Role.INCIDENT_COMMANDER, username="ivan"),
        admin=make_user(Role.ADMIN, username="ada"),
    )


@pytest.fixture
def k8s(db) -> Target:
    """The simulated cluster as a production target (context empty: the kubeconfig's current one), replicas 0..10,
    with a production, a staging and a development namespace."""
    target = Target.objects.create(
        name="Simulated cluster", slug="sim", kind=Target.Kind.KUBERNETES, environment=Environment.PRODUCTION,
        max_replicas=10,
    )  # fmt: skip
    for name, environment in ((PROD_NS, "production"), (STAGING_NS, "staging"), (DEV_NS, "development")):
        Namespace.objects.create(target=target, name=name, environment=environment)
    return target


@pytest.fixture
def shop(cluster, simulator) -> Cluster:
    """`web` in the production and staging namespaces, three revisions each, two replicas."""
    for namespace in (PROD_NS, STAGING_NS):
        add_deployment(
            cluster, namespace, "web", images=["shop/web:1", "shop/web:2", "shop/web:3"],
            change_causes=["ship 1", "ship 2", "ship 3"], replicas=2,
        )  # fmt: skip
    return cluster


def datastore(kind: str, url: str, environment: str = Environment.PRODUCTION, slug: str = "") -> Target:
    return Target.objects.create(
        name=f"{kind} {environment} {slug or url}", slug=slug or f"{kind}-{environment}", kind=kind,
        environment=environment, url=url,
    )  # fmt: skip


@pytest.fixture
def redis_target(db) -> Target:
    return datastore(Target.Kind.REDIS, "redis://:s3cret-pass@127.0.0.1:6379/13", Environment.STAGING)


@pytest.fixture
def pg_target(db) -> Target:
    return datastore(Target.Kind.POSTGRESQL, "postgres://ops:pg-s3cret@db.internal:5432/shop")


@pytest.fixture(autouse=True)
def _freeze_calendar_quiet(freeze_rules_off):
    """The freeze rule is tested with injected lookups and, once, against the real calendar."""
