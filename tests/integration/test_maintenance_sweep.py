"""Concurrent maintenance sweeps on PostgreSQL send each notice once (row lock + unique notice)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from incidents.models import Service
from maintenance.models import MaintenanceNotice, MaintenanceWindow
from maintenance.services import maintenance_sweep, window_create
from portal.accounts.roles import Role
from portal.notifications.models import EventKind, Notification

pytestmark = pytest.mark.integration


def test_concurrent_sweeps_send_one_notice(django_db_serialized_rollback, transactional_db, make_user):
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    now = timezone.now()
    for seeded in MaintenanceWindow.objects.filter(kind="recurring"):  # only the window made here is due
        seeded.active = False
        seeded.save()
    api = Service.objects.create(name="API", slug="api")
    window = window_create(
        name="LB swap",
        kind="one_off",
        actor=make_user(Role.ADMIN),
        starts_at=now + timedelta(hours=2),
        duration=timedelta(hours=1),
        notice_lead=timedelta(hours=24),
        services=[api],
        now=now,
    )
    start = threading.Barrier(4)
    sent: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            start.wait(timeout=10)
            sent.append(maintenance_sweep(now=now))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(sent) == [0, 0, 0, 1]
    assert MaintenanceNotice.objects.filter(occurrence__window=window).count() == 1
    assert Notification.objects.filter(event_kind=EventKind.MAINTENANCE_SCHEDULED).count() == 1
    connection.close()
