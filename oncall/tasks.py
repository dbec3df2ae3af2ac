from dataclasses import asdict

from celery import shared_task

from oncall.services import oncall_sweep


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def sweep_oncall() -> dict[str, int]:
    """Beat runs this every minute: handoff records, shift reminders and lead notices, each exactly once."""
    return asdict(oncall_sweep())
