from celery import shared_task

from incidents.escalation import escalation_sweep
from incidents.services import incident_sweep_timers


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def sweep_incident_timers() -> int:
    """Beat runs this every minute: reminders for missed deadlines (once each) and root-cause escalation."""
    return incident_sweep_timers()


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def sweep_escalations() -> int:
    """Beat runs this every 30 s: page each due escalation level once."""
    return escalation_sweep()
