"""Exactly once: a run starts once whatever the messages; the sweeper resends what the broker lost and ends what
waited too long; the reaper marks runs of dead workers abandoned and never runs them again."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from portal.cluster.models import ActionRun
from portal.cluster.runner import Outcome
from portal.cluster.services import (
    action_run_finish,
    action_run_heartbeat,
    action_run_start,
    action_runs_reap,
    action_runs_sweep,
)
from portal.cluster.tasks import run_action, sweep_action_runs
from portal.errors import ConflictError
from tests.cluster.conftest import PROD_NS, STAGING_NS
from tests.cluster.test_services import execute, lines, replicas, request

Status = ActionRun.Status


def test_a_redelivered_message_runs_nothing_twice(shop, k8s, people):
    run = request(people.commander, k8s, "scale", namespace=PROD_NS, deployment="web", replicas=3)
    run = execute(run)
    shop.patch_scale(PROD_NS, "web", "application/merge-patch+json", {"spec": {"replicas": 7}})

    run_action(run.pk, run.requested_by_id)  # the same message again, e.g. after a worker restart

    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED
    assert replicas(shop) == 7, "not scaled back to 3 by the duplicate"
    assert sum(line.startswith("started on") for line in lines(run)) == 1


def test_a_run_is_claimed_once_even_by_two_workers(shop, k8s, people):
    run = request(people.responder, k8s, "restart", namespace=STAGING_NS, deployment="web")

    first = action_run_start(run_id=run.pk, worker="w1@host")
    second = action_run_start(run_id=run.pk, worker="w2@host")

    assert first.worker == "w1@host"
    assert second is None


def test_a_message_for_a_run_that_no_longer_exists_does_nothing(db):
    assert action_run_start(run_id=999, worker="w") is None


class TestSweeper:
    def test_a_queued_run_the_broker_lost_is_sent_again(self, shop, k8s, people, settings,
                                                         django_capture_on_commit_callbacks):  # fmt: skip
        run = request(people.responder, k8s, "restart", namespace=STAGING_NS, deployment="web")
        soon = timezone.now() + timedelta(seconds=settings.ACTION_STUCK_AFTER_SECONDS - 1)
        later = timezone.now() + timedelta(seconds=settings.ACTION_STUCK_AFTER_SECONDS + 1)

        with django_capture_on_commit_callbacks() as callbacks:
            assert action_runs_sweep(now=soon).requeued == 0
        assert callbacks == []
        with django_capture_on_commit_callbacks() as callbacks:
            assert action_runs_sweep(now=later).requeued == 1
        assert len(callbacks) == 1
        run.refresh_from_db()
        assert run.enqueued_at == later
        with django_capture_on_commit_callbacks() as callbacks:
            assert action_runs_sweep(now=later).requeued == 0, "sent again once per interval, not every sweep"

        assert execute(run).status == Status.SUCCEEDED

    def test_what_waited_too_long_is_ended(self, shop, k8s, people, settings):
        unconfirmed = request(people.commander, k8s, "restart", confirm=False, namespace=PROD_NS, deployment="web")
        unapproved = request(people.commander, k8s, "drain", node="node-3", grace_period_seconds=0)
        never_started = request(people.commander, k8s, "restart", namespace=PROD_NS, deployment="web")
        longest = max(settings.ACTION_CONFIRM_WINDOW_SECONDS, settings.ACTION_APPROVAL_WINDOW_SECONDS,
                      settings.ACTION_START_DEADLINE_SECONDS)  # fmt: skip

        assert action_runs_sweep(now=timezone.now() + timedelta(seconds=longest + 1)).expired == 3

        statuses = {run.pk: run for run in ActionRun.objects.all()}
        assert (statuses[unconfirmed.pk].status, statuses[unconfirmed.pk].error) == (
            Status.CANCELLED, "Not confirmed in time."
        )  # fmt: skip
        assert (statuses[unapproved.pk].status, statuses[unapproved.pk].error) == (
            Status.TIMED_OUT, "Nobody approved it in time."
        )  # fmt: skip
        assert statuses[never_started.pk].status == Status.TIMED_OUT
        assert execute(never_started).status == Status.TIMED_OUT, "a late message does not start it"

    def test_a_worker_that_starts_a_run_past_its_deadline_ends_it_instead(self, shop, k8s, people, settings):
        run = request(people.commander, k8s, "restart", namespace=PROD_NS, deployment="web")
        late = timezone.now() + timedelta(seconds=settings.ACTION_START_DEADLINE_SECONDS)

        assert action_run_start(run_id=run.pk, worker="w", now=late) is None

        run.refresh_from_db()
        assert run.status == Status.TIMED_OUT
        assert run.error.startswith("No worker started it by")


class TestReaper:
    def test_a_run_whose_worker_stopped_beating_is_abandoned_and_never_rerun(self, shop, k8s, people, settings):
        run = request(people.commander, k8s, "scale", namespace=PROD_NS, deployment="web", replicas=3)
        started = action_run_start(run_id=run.pk, worker="w1@host")  # ... and the worker is killed here
        stale = started.heartbeat_at + timedelta(seconds=settings.ACTION_STALE_AFTER_SECONDS)

        assert action_runs_reap(now=stale - timedelta(seconds=1)).abandoned == 0
        assert action_runs_reap(now=stale).abandoned == 1

        run.refresh_from_db()
        assert run.status == Status.ABANDONED
        assert "its outcome is unknown" in run.error
        run_action(run.pk, run.requested_by_id)  # late acknowledgement redelivers the killed worker's message
        run.refresh_from_db()
        assert (run.status, replicas(shop)) == (Status.ABANDONED, 2)

    def test_a_heartbeat_keeps_the_reaper_away_and_is_not_audited(self, shop, k8s, people, settings):
        run = request(people.commander, k8s, "scale", namespace=PROD_NS, deployment="web", replicas=3)
        action_run_start(run_id=run.pk, worker="w1@host")
        entries = LogEntry.objects.get_for_object(run).count()
        later = timezone.now() + timedelta(seconds=settings.ACTION_STALE_AFTER_SECONDS + 5)

        assert action_run_heartbeat(run_id=run.pk, now=later - timedelta(seconds=10)) is True
        assert action_runs_reap(now=later).abandoned == 0
        assert LogEntry.objects.get_for_object(run).count() == entries

    def test_a_slow_worker_that_reports_after_all_records_the_outcome(self, shop, k8s, people, settings):
        run = request(people.commander, k8s, "scale", namespace=PROD_NS, deployment="web", replicas=3)
        started = action_run_start(run_id=run.pk, worker="w1@host")
        action_runs_reap(now=started.heartbeat_at + timedelta(seconds=settings.ACTION_STALE_AFTER_SECONDS))

        finished = action_run_finish(run_id=run.pk, status=Status.SUCCEEDED, outcome=Outcome("2 → 3 replicas"))

        assert finished.status == Status.SUCCEEDED
        assert "the worker reported back after the run had been marked abandoned" in lines(finished)

    def test_the_beat_task_sweeps_and_reaps(self, db):
        assert sweep_action_runs() == {"requeued": 0, "expired": 0, "abandoned": 0, "looks": 0}


def test_heartbeat_of_a_finished_run_says_so(shop, k8s, people):
    run = execute(request(people.responder, k8s, "rollout_history", namespace=PROD_NS, deployment="web"))

    assert action_run_heartbeat(run_id=run.pk) is False


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.CANCELLED])
def test_finishing_a_run_that_is_not_running_is_a_conflict(shop, k8s, people, status):
    run = request(people.responder, k8s, "restart", namespace=STAGING_NS, deployment="web")
    run.status = status
    run.save()

    with pytest.raises(ConflictError, match="arrived too late"):
        action_run_finish(run_id=run.pk, status=Status.FAILED, outcome=None, error="x")
