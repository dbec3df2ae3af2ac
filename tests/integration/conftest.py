import pytest

# The cluster actions' people and simulated-cluster target, for the integration tests that run those actions.
from tests.cluster.conftest import k8s, people  # noqa: F401
from tests.integration.processes import RedisServer
from tests.servers import free_port


@pytest.fixture
def redis_server(tmp_path):
    """A Redis of the test's own on a free port, which a test may stop and start (a broker outage)."""
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()
