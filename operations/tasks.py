from celery import shared_task
from django.db.models import Q

from operations.models import Slo
from operations.services.checklists import checklists_generate
from operations.services.slo import slo_refresh


@shared_task(acks_late=True, soft_time_limit=30, time_limit=60)
def sweep_slos() -> int:
    """Beat runs this every minute: one refresh task per SLO, so a slow or failing Prometheus query holds up only
    its own SLO. Inactive SLOs with an open burn alert are refreshed too, to end it."""
    slo_ids = list(
        Slo.objects.filter(Q(active=True) | Q(burn_alerts__ended_at__isnull=True, burn_alerts__isnull=False))
        .values_list("pk", flat=True)
        .distinct()
    )
    for slo_id in slo_ids:
        refresh_slo.delay(slo_id)
    return len(slo_ids)


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def refresh_slo(slo_id: int) -> int:
    """Read new SLI values and start or end burn-rate episodes; a repeat finds nothing new and notifies nothing."""
    slo = Slo.objects.filter(pk=slo_id).first()
    return 0 if slo is None else len(slo_refresh(slo=slo))


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def generate_checklists() -> int:
    """Beat runs this every five minutes: this period's daily, weekly, monthly and quarterly checklists, once each."""
    return len(checklists_generate())
