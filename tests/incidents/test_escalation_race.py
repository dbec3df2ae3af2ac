"""Two escalation sweeps at once on PostgreSQL page each level exactly once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections

from incidents.escalation import escalation_sweep
from incidents.models import EscalationStep, TimelineEvent
from portal.notifications.models import EventKind, Notification
from tests.incidents.conftest import T0

pytestmark = pytest.mark.integration


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_sweeps_page_each_level_once(declare):
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    incidents = [declare("P1", title=f"outage {n}") for n in range(5)]
    start = threading.Barrier(2)
    counts: list[int] = []

    def sweep() -> None:
        try:
            start.wait()
            counts.append(escalation_sweep(now=T0 + timedelta(hours=2)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    due_steps = EscalationStep.objects.filter(due_at__isnull=False).count()  # levels 1-3 and the secondary
    assert sum(counts) == due_steps == 4 * len(incidents)
    assert EscalationStep.objects.filter(paged_at__isnull=False).count() == due_steps
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.ESCALATION).count() == due_steps
    assert Notification.objects.filter(event_kind=EventKind.INCIDENT_ESCALATED).count() == due_steps
