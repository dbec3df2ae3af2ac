"""bulk_set and AnyOf: many rows in one statement, the same result as one save or one filter each."""

from datetime import UTC, datetime

from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from incidents.alert_services import integration_create
from incidents.models import Alert, Service
from portal.bulk import AnyOf, bulk_set

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _alerts(n: int) -> list[Alert]:
    integration = integration_create(name="bulk", created_by=None).integration
    return Alert.objects.bulk_create(
        Alert(integration=integration, fingerprint=f"f{i}", status="firing", alertname="A", labels={"n": str(i)},
              starts_at=AT, first_received_at=AT, last_received_at=AT)
        for i in range(n)
    )  # fmt: skip


def test_bulk_set_writes_each_rows_own_values_in_one_statement(db):
    rows = _alerts(5)
    service = Service.objects.create(name="Checkout", slug="checkout")
    for i, row in enumerate(rows[:4]):
        row.status = "resolved" if i % 2 else "firing"
        row.labels = {"n": str(i), "changed": "yes", "quote": 'it\'s "x"'}
        row.ends_at = None if i % 2 == 0 else AT.replace(hour=i)
        row.service = service if i == 3 else None

    with CaptureQueriesContext(connection) as captured:
        bulk_set(rows[:4], ["status", "labels", "ends_at", "service"])

    assert len(captured) == 1
    stored = {row.fingerprint: row for row in Alert.objects.all()}
    assert [stored[f"f{i}"].status for i in range(5)] == ["firing", "resolved", "firing", "resolved", "firing"]
    assert stored["f3"].labels == {"n": "3", "changed": "yes", "quote": 'it\'s "x"'}
    assert (stored["f1"].ends_at, stored["f2"].ends_at) == (AT.replace(hour=1), None)
    assert (stored["f3"].service, stored["f2"].service) == (service, None)
    assert stored["f4"].labels == {"n": "4"}  # not in the list: untouched
    bulk_set([], ["status"])  # nothing to write: no statement


def test_any_of_selects_like_in(db):
    _alerts(5)

    found = Alert.objects.filter(AnyOf(F("fingerprint"), ["f1", "f3", "nope"])).order_by("fingerprint")
    excluded = Alert.objects.exclude(AnyOf(F("fingerprint"), ["f0"]))

    assert [row.fingerprint for row in found] == ["f1", "f3"]
    assert excluded.count() == 4
