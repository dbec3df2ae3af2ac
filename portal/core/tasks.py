from celery import shared_task
from django.utils import timezone

from portal.core.models import WorkerHeartbeat
from portal.core.services import audit_chain_record_verification


@shared_task(bind=True, ignore_result=True, acks_late=False, soft_time_limit=20, time_limit=30)
def worker_heartbeat(self) -> None:  # type: ignore[no-untyped-def]
    """Scheduled by beat; the health page reads the rows to tell when a worker last answered."""
    WorkerHeartbeat.objects.update_or_create(
        hostname=self.request.hostname or "unknown", defaults={"last_seen": timezone.now()}
    )


@shared_task(ignore_result=True, acks_late=True, soft_time_limit=1800, time_limit=1860)
def verify_audit_chain() -> bool:
    """Scheduled by beat: verify the whole audit chain and keep the verdict for health and the audit page."""
    return audit_chain_record_verification(now=timezone.now()).ok
