"""A look asked for in a web process is fetched by a real Celery worker over Redis from the simulator, and the page's
poll sees it done: the path the incident page's Investigate card takes."""

import pytest

from portal.cluster.models import Look
from tests.integration import test_cluster_actions as actions
from tests.integration.processes import celery_worker, run_script, wait_for

pytestmark = [pytest.mark.integration]
committed = actions.committed
worker_setup = actions.worker_setup

REQUEST = """
from django.db import transaction
from portal.accounts.models import User
from portal.cluster.models import Target
from portal.cluster.services import look_request
with transaction.atomic():
    look = look_request(requester=User.objects.get(username="rami"), target=Target.objects.get(slug="sim"),
                        kind="logs", parameters={"namespace": "shop", "deployment": "web", "tail": 5})
print(look.pk)
"""


def test_a_worker_fetches_a_look_sent_on_commit(worker_setup, people, tmp_path):
    _, env = worker_setup
    with celery_worker(env, tmp_path / "worker.log"):
        pk = int(run_script(REQUEST, env).stdout.strip().splitlines()[-1])
        look = Look.objects.get(pk=pk)

        def fetched() -> bool:
            look.refresh_from_db()
            return look.status in {Look.Status.DONE, Look.Status.FAILED}

        assert wait_for(fetched, timeout=60), (tmp_path / "worker.log").read_text()

    assert look.status == Look.Status.DONE, look.error
    # Fresh pods on the real clock: a few startup lines each, at most five.
    count = int(look.summary.split(" ")[0])
    assert look.summary == f"{count} lines from 2 pods"
    assert 2 <= count <= 10
    assert len(look.text.splitlines()) == count
    assert look.command == "kubectl -n shop logs -l app=web --tail=5 --timestamps"
    assert look.progress == "", "progress is cleared once the look is done"
