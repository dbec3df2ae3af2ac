"""Twenty commanders change one incident's severity at the same instant on PostgreSQL: the row lock makes them take
turns, and each answer is a 200 or a 409, never a 500."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.urls import reverse
from rest_framework.test import APIClient

from incidents.models import Incident, TimelineEvent
from portal.accounts.roles import Role
from portal.accounts.services import api_token_create
from tests.factories import UserFactory

pytestmark = pytest.mark.integration
CALLERS = 20


def _at_once(incident: Incident, bodies: list[dict[str, object]]) -> Counter[int]:
    """POST each body to the severity endpoint from its own thread (and connection), all released together."""
    commander = UserFactory(role=Role.INCIDENT_COMMANDER)
    key = api_token_create(user=commander, name="race", created_by=None).key
    start = threading.Barrier(len(bodies), timeout=30)
    statuses: list[int] = []

    def change(body: dict[str, object]) -> None:
        client = APIClient()
        client.raise_request_exception = False  # a bug is a 500 here, counted like any other answer
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            start.wait()
            path = reverse("api:incident-severity", args=[incident.pk])
            statuses.append(client.post(path, body, format="json").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=change, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(statuses) == len(bodies), "a caller did not finish"
    return Counter(statuses)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_with_the_same_version_exactly_one_wins_and_the_rest_are_409(declare):
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    incident = declare("P3")
    body = {"severity": "P1", "reason": "spreading", "version": incident.version}

    statuses = _at_once(incident, [body] * CALLERS)

    assert statuses == Counter({200: 1, 409: CALLERS - 1})
    incident.refresh_from_db()
    assert (incident.severity.code, incident.version) == ("P1", body["version"] + 1)
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.SEVERITY).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_without_a_version_each_change_applies_or_is_a_409(declare):
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    incident = declare("P3")
    first_version = incident.version
    bodies = [{"severity": "P1" if n % 2 else "P2", "reason": f"caller {n}"} for n in range(CALLERS)]

    statuses = _at_once(incident, bodies)

    assert set(statuses) <= {200, 409}, statuses
    assert statuses[200] >= 1
    incident.refresh_from_db()
    assert incident.version == first_version + statuses[200]
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.SEVERITY).count() == statuses[200]
