import os
import shutil
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from portal import kube
from portal.accounts.roles import Role
from portal.accounts.services import api_token_create
from portal.kubesim import Cluster, Simulator
from portal.kubesim.seed import seed_demo as seed_simulated_cluster
from tests.factories import UserFactory

REQUIRE_SERVICES = os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"
SERVICES_SKIP_REASON = (
    "needs PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379), and Prometheus for the SLI tests: run "
    "`PORTAL_REQUIRE_SERVICES=1 make test` (what .ci/run does)"
)
pytest_plugins = ["tests.clock"]

# Timing goals live in bench/: a property test is not failed for running slowly on a busy machine.
hypothesis_settings.register_profile("portal", deadline=None)
hypothesis_settings.load_profile("portal")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chromium_missing = not os.path.exists(CHROMIUM)
    for item in items:
        if "integration" in item.keywords and not REQUIRE_SERVICES:
            item.add_marker(pytest.mark.skip(reason=SERVICES_SKIP_REASON))
        if "browser" in item.keywords and chromium_missing and not REQUIRE_SERVICES:
            item.add_marker(pytest.mark.skip(reason="needs Debian's chromium (`apt-get install -y chromium`)"))


@pytest.fixture(autouse=True)
def _empty_cache():
    """API throttle counters and cached answers (portal.core.derived_cache) live in the cache: each test starts with
    none (the database rolls back between tests; no signal tells the cache)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def make_user(db):
    def make(role: Role | None = None, **fields: object):
        return UserFactory(role=role, **fields)

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user(Role.ADMIN, username="ada.admin")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def token_client(db):
    """An APIClient authenticated by a real API token for a user of the given role."""

    def make(role: Role | None, **fields: object) -> APIClient:
        user = UserFactory(role=role, **fields)
        issued = api_token_create(user=user, name="tests", created_by=None)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
        client.user = user
        return client

    return make


@pytest.fixture
def freeze_rules_off(db):
    """Switch the seeded freeze rules off (Black Friday week, quarter ends, holidays): production changes made at
    the real current time would otherwise pass or fail depending on the day the suite runs."""
    from maintenance.models import FreezeRule

    FreezeRule.objects.update(active=False)


@pytest.fixture
def demo_cluster(settings, tmp_path) -> Iterator[Cluster]:
    """What `make run` starts: the simulator seeded like the demo, its kubeconfig (context `portal-simulator`, the
    demo target's) the portal's."""
    cluster = Cluster()
    seed_simulated_cluster(cluster)
    settings.ACTION_HEARTBEAT_SECONDS = 3600  # the heartbeat thread's own connection cannot see this test's rows
    with Simulator(cluster) as running:
        settings.KUBECONFIG = str(running.write_kubeconfig(tmp_path / "kubeconfig.yaml"))
        settings.KUBE_CONTEXT = None
        kube._api_client.cache_clear()
        yield cluster
    kube._api_client.cache_clear()
