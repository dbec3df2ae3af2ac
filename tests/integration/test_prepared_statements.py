"""On PostgreSQL a statement a connection runs again and again is prepared, so PostgreSQL plans it once per
connection (settings: server-side binding, DATABASE_PREPARE_THRESHOLD)."""

import pytest
from django.conf import settings
from django.db import connection

from incidents.models import Incident

pytestmark = pytest.mark.integration


def _prepared_incident_reads() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ['%"incidents_incident"%']
        )
        return int(cursor.fetchone()[0])


def test_a_statement_run_again_and_again_is_prepared_once(db):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (set DATABASE_URL)"
    threshold = settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"]
    before = _prepared_incident_reads()

    for pk in range(threshold - 1):
        list(Incident.objects.select_related("severity", "commander").filter(pk=pk))
    assert _prepared_incident_reads() == before  # not yet: a statement run a few times is not worth preparing
    for pk in range(threshold, threshold + 3):
        list(Incident.objects.select_related("severity", "commander").filter(pk=pk))
    assert _prepared_incident_reads() == before + 1  # once, whatever the values bound
