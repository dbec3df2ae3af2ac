"""A simulated Kubernetes API server in-process on a free port, and the adapter's settings pointed at it."""

from collections.abc import Iterator

import pytest
from kubernetes import client, config

from portal import kube
from portal.kubesim import Cluster, ManualClock, Simulator

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
