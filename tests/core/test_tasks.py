from datetime import timedelta

from celery.utils.nodenames import gethostname
from django.utils import timezone

from portal.core.models import WorkerHeartbeat
from portal.core.tasks import worker_heartbeat


def test_heartbeat_records_the_worker_and_refreshes_it(db):
    worker_heartbeat.apply()
    first = WorkerHeartbeat.objects.get(hostname=gethostname()).last_seen
    WorkerHeartbeat.objects.filter(hostname=gethostname()).update(last_seen=first - timedelta(minutes=5))

    worker_heartbeat.apply()

    beat = WorkerHeartbeat.objects.get(hostname=gethostname())
    assert timezone.now() - beat.last_seen < timedelta(seconds=5)
    assert WorkerHeartbeat.objects.count() == 1
