from celery import shared_task

from maintenance.services import maintenance_sweep


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def sweep_maintenance() -> int:
    """Beat runs this every minute: occurrences entering their notice horizon become rows, due notices go out once."""
    return maintenance_sweep()
