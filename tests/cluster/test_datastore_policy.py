"""The data-store changes' rules: terminating one backend needs a second person in production, like terminating idle
connections; VACUUM ANALYZE is maintenance, refused in production outside a maintenance window unless an emergency.
(The statements themselves run against the real PostgreSQL in tests/integration/test_datastore_looks.py.)"""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from incidents.models import Severity
from incidents.services import incident_declare
from maintenance.models import MaintenanceWindow
from portal.cluster.models import ActionRun, Target
from portal.cluster.services import action_run_request
from portal.core.models import Environment
from portal.errors import ApplicationError, ForbiddenError
from tests.cluster.conftest import datastore

INSIDE = datetime(2027, 3, 3, 3, 0, tzinfo=UTC)  # a Wednesday, inside the daily 02:00-04:00 window below
OUTSIDE = INSIDE + timedelta(hours=2)


@pytest.fixture
def pg(db) -> Target:
    return datastore(Target.Kind.POSTGRESQL, "postgres://ops:pw@db.internal:5432/shop", slug="pg")


@pytest.fixture
def nightly(db) -> MaintenanceWindow:
    MaintenanceWindow.objects.update(active=False)
    return MaintenanceWindow.objects.create(
        name="Nightly database maintenance", kind=MaintenanceWindow.Kind.RECURRING, environment=Environment.PRODUCTION,
        rrule="FREQ=DAILY", dtstart=date(2027, 1, 1), start_time=time(2, 0), zone="UTC", duration=timedelta(hours=2),
        notice_lead=timedelta(hours=1),
    )  # fmt: skip


def vacuum(user, target, *, now, incident=None, emergency=False) -> ActionRun:
    return action_run_request(
        requester=user, target=target, kind="pg_vacuum_analyze", parameters={"table": "public.orders"},
        reason="bloat", incident=incident, emergency=emergency, confirm=True, now=now,
    )  # fmt: skip


class TestVacuum:
    def test_runs_in_production_inside_a_maintenance_window(self, pg, people, nightly):
        run = vacuum(people.commander, pg, now=INSIDE)

        assert run.status == ActionRun.Status.QUEUED
        assert run.command == "-- on postgres://ops:****@db.internal:5432/shop\nVACUUM (ANALYZE) public.orders;"

    def test_is_refused_outside_one_naming_the_way_out(self, pg, people, nightly):
        with pytest.raises(ForbiddenError) as refused:
            vacuum(people.commander, pg, now=OUTSIDE)

        assert refused.value.field == "emergency"
        assert "inside a maintenance window (none is in progress now)" in refused.value.message

    def test_an_emergency_for_an_open_p1_runs_outside_one(self, pg, people, nightly):
        p1 = incident_declare(title="DB bloat", severity=Severity.objects.get(code="P1"), reporter=people.commander)

        run = vacuum(people.commander, pg, now=OUTSIDE, incident=p1, emergency=True)

        assert run.status == ActionRun.Status.QUEUED

    def test_staging_needs_no_window(self, people, nightly, db):
        staging = datastore(Target.Kind.POSTGRESQL, "postgres://ops@db.staging:5432/shop", Environment.STAGING)
        assert vacuum(people.responder, staging, now=OUTSIDE).status == ActionRun.Status.QUEUED

    @pytest.mark.parametrize("table", ["orders; DROP TABLE x", '"Quoted"', "a.b.c", ""])
    def test_only_plain_table_names(self, pg, people, table):
        with pytest.raises(ApplicationError) as refused:
            action_run_request(requester=people.commander, target=pg, kind="pg_vacuum_analyze",
                               parameters={"table": table}, reason="r")  # fmt: skip
        assert refused.value.field == "table"


def test_terminating_a_backend_in_production_needs_a_second_person(pg, people):
    run = action_run_request(requester=people.commander, target=pg, kind="pg_terminate_backend",
                             parameters={"pid": 4242}, reason="stuck", confirm=True)  # fmt: skip

    assert run.status == ActionRun.Status.AWAITING_APPROVAL
    assert "WHERE pid = 4242" in run.command
    assert "Backend 4242 of database shop" in run.expectation
