# The cluster actions' people and simulated-cluster target, for the integration tests that run those actions.
from tests.cluster.conftest import k8s, people  # noqa: F401
