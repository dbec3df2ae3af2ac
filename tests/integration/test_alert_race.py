"""Two copies of one Alertmanager payload, or two payloads of one new group, arriving at once open one incident:
PostgreSQL, two connections."""

import threading

import pytest
from django.db import connection

from incidents import alert_services
from incidents.alert_services import Outcome, alert_ingest, integration_create
from incidents.alerts import IncomingAlert
from incidents.models import Alert, AlertGroup, Incident
from tests.incidents.alertmanager import STARTS

pytestmark = pytest.mark.integration


@pytest.fixture
def postgres(django_db_serialized_rollback, transactional_db):
    """Committed transactions, seen by every connection. Serialized rollback puts the seeded severities and
    suppression rules back after the flush."""
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    yield
    connection.close()


def hold_until_both_looked(monkeypatch) -> None:
    """Hold each request's first pass where it opens an incident until both requests are there: each has looked for
    the open alert and group, and found none. (Opening one then takes the audit chain's lock, so the second request
    waits there for the first to commit, then fails on a unique constraint and takes its second pass.)"""
    both_looked = threading.Barrier(2, timeout=20)
    first_pass_done: set[int] = set()
    real_declare = alert_services.incident_declare

    def declare_together(**kwargs):
        if threading.get_ident() not in first_pass_done:
            first_pass_done.add(threading.get_ident())
            both_looked.wait()
        return real_declare(**kwargs)

    monkeypatch.setattr(alert_services, "incident_declare", declare_together)


def test_two_copies_of_a_payload_at_once_open_one_incident(postgres, monkeypatch):
    integration = integration_create(name="alertmanager-prod", created_by=None).integration
    alerts = [
        IncomingAlert(
            fingerprint="8d4a3f1c2b9e7a60",
            status="firing",
            labels={"alertname": "ServiceDown", "service": "checkout", "severity": "critical"},
            annotations={"summary": "checkout is unreachable"},
            starts_at=STARTS,
            ends_at=None,
        )
    ]
    # Hold each request until both have looked for the open alert and found none: the race in which only the
    # database constraint can keep the second copy out.
    hold_until_both_looked(monkeypatch)
    inserted: list[int] = []
    real_bulk_create = Alert.objects.bulk_create

    def count_inserts(rows, *args, **kwargs):
        inserted.append(len(rows))
        return real_bulk_create(rows, *args, **kwargs)

    monkeypatch.setattr(Alert.objects, "bulk_create", count_inserts)
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            summary = alert_ingest(integration=integration, alerts=alerts)
            outcomes.extend(result.outcome for result in summary.results)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    # Both inserted; the constraint refused the second, which re-read the first's alert and found it unchanged.
    assert sorted(inserted) == [0, 1, 1]
    assert sorted(outcomes) == [Outcome.OPENED, Outcome.UNCHANGED]
    assert Incident.objects.count() == 1
    alert = Alert.objects.get()
    assert alert.incident == Incident.objects.get()
    assert list(alert.incident.timeline.values_list("kind", flat=True)) == ["declared", "alert"]


def test_two_payloads_of_one_new_group_at_once_open_one_incident(postgres, monkeypatch):
    integration = integration_create(name="alertmanager-prod", created_by=None).integration
    payloads = [
        [
            IncomingAlert(
                fingerprint=f"f{n}",
                status="firing",
                labels={"alertname": "PodCrashLooping", "service": "checkout", "pod": f"checkout-{n}"},
                annotations={},
                starts_at=STARTS,
                ends_at=None,
            )
        ]
        for n in range(2)
    ]
    # Both look for the group's open incident and find none; only the group's constraint can keep one out.
    hold_until_both_looked(monkeypatch)
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []

    def deliver(alerts: list[IncomingAlert]) -> None:
        try:
            summary = alert_ingest(integration=integration, alerts=alerts, group_key='{}:{service="checkout"}')
            outcomes.extend(result.outcome for result in summary.results)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(alerts,)) for alerts in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    # The group's constraint refused the second incident's group; its second pass attached to the first's.
    assert sorted(outcomes) == [Outcome.ATTACHED, Outcome.OPENED]
    incident = Incident.objects.get()
    group = AlertGroup.objects.get()
    assert (group.incident, group.alert_count) == (incident, 2)
    assert set(Alert.objects.values_list("incident", flat=True)) == {incident.pk}
