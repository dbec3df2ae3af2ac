from celery import Task, shared_task
from django.conf import settings

from portal.cluster.actions import MAX_WAIT_SECONDS
from portal.cluster.services import action_run_execute, action_runs_reap, action_runs_sweep, look_fetch, looks_sweep
from portal.core.audit import acting_as


# Late acknowledgement: a worker killed mid-run leaves the message to be redelivered, and the redelivered message
# finds the run no longer queued and does nothing (the reaper marks it abandoned). The hard limit stays far below
# the Redis broker's visibility timeout (1 h), past which an unacknowledged message would be delivered again anyway.
@shared_task(bind=True, acks_late=True, soft_time_limit=MAX_WAIT_SECONDS + 60, time_limit=MAX_WAIT_SECONDS + 120)
def run_action(self: "Task[[int, int], None]", run_id: int, requested_by_id: int) -> None:
    """Run one action for the person who requested it (audit entries name them)."""
    with acting_as(requested_by_id):
        action_run_execute(run_id=run_id, worker=self.request.hostname or "")


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def sweep_action_runs() -> dict[str, int]:
    """Beat's pass: resend what the broker lost, end what waited too long, mark dead workers' runs abandoned."""
    swept, reaped, looks_ended = action_runs_sweep(), action_runs_reap(), looks_sweep()
    return {"requeued": swept.requeued, "expired": swept.expired, "abandoned": reaped.abandoned, "looks": looks_ended}


# A look is read-only: a redelivered message finds it no longer queued and does nothing.
@shared_task(
    acks_late=True,
    soft_time_limit=int(settings.LOOK_DEADLINE_SECONDS) + 30,
    time_limit=int(settings.LOOK_DEADLINE_SECONDS) + 60,
)
def fetch_look(look_id: int) -> None:
    """Fetch one look (pods, events, logs, top, data-store statistics) under its deadline."""
    look_fetch(look_id=look_id)
