"""The audit chain on PostgreSQL: concurrent writers append one chain; the trigger keeps history append-only for
every role but the maintenance role, superusers included; pruning as the maintenance role leaves an anchor."""

import threading
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import ProgrammingError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.core.audit import acting_as, sealed_together
from portal.core.models import AuditAnchor, AuditSeal
from portal.core.selectors import UNSEALED_GRACE, _first_unsealed, audit_chain_verify
from tests.core.test_audit_chain import create_maintenance_role

pytestmark = pytest.mark.integration


@pytest.fixture
def postgres(db):
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"


@pytest.fixture
def committed(django_db_serialized_rollback, transactional_db):
    """Committed transactions, seen by every connection."""
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    yield
    connection.close()


def execute(sql: str, params: list[object] | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:  # a savepoint: a refusal leaves the test usable
        cursor.execute(sql, params)


def current_user() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        return cursor.fetchone()[0]


def create_role(name: str) -> None:
    """A role with every privilege on the tables, created in the test's transaction (and gone with it)."""
    execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN CREATE ROLE {name}; END IF; "
        "END $$"
    )
    execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {name}")
    execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {name}")


def test_concurrent_writers_append_a_single_chain(committed):
    writers, rounds = 4, 8
    start = threading.Barrier(writers, timeout=30)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(rounds):
                # two entries in one transaction, each sealed as written or both at its end
                with transaction.atomic() if i % 2 else sealed_together():
                    group = Group.objects.create(name=f"writer-{n}-{i}")
                    group.name = f"writer-{n}-{i}-renamed"
                    group.save()
                Group.objects.create(name=f"writer-{n}-{i}-alone")  # and one outside any transaction
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    total = writers * rounds * 3
    assert LogEntry.objects.filter(object_repr__startswith="writer-").count() == total
    positions = list(AuditSeal.objects.order_by("position").values_list("position", flat=True))
    assert positions == list(range(1, LogEntry.objects.count() + 1))
    report = audit_chain_verify(now=timezone.now())
    assert report.ok, report.problem
    assert report.checked == len(positions)


class TestAppendOnly:
    @pytest.fixture
    def entry(self, postgres) -> LogEntry:
        return LogEntry.objects.get_for_object(Group.objects.create(name="ops")).get()

    @pytest.mark.parametrize(
        ("statement", "table"),
        [
            ("UPDATE auditlog_logentry SET object_repr = 'innocent' WHERE id = %s", "auditlog_logentry"),
            ("DELETE FROM auditlog_logentry WHERE id = %s", "auditlog_logentry"),
            ("UPDATE core_auditseal SET hash = repeat('0', 64) WHERE entry_id = %s", "core_auditseal"),
            ("DELETE FROM core_auditseal WHERE entry_id = %s", "core_auditseal"),
        ],
    )
    def test_a_superuser_is_refused(self, entry, statement, table):
        assert current_user() == "postgres"  # the role the suite (and CI's portal) connects as

        with pytest.raises(
            ProgrammingError, match=f"audit history is append-only: .* on {table} refused for role postgres"
        ):
            execute(statement, [entry.pk])

    def test_a_role_with_every_privilege_is_refused(self, entry):
        create_role("portal_app_test")
        execute("SET LOCAL ROLE portal_app_test")

        with pytest.raises(
            ProgrammingError, match="append-only: UPDATE on auditlog_logentry refused for role portal_app_test"
        ):
            execute("UPDATE auditlog_logentry SET changes = '{}' WHERE id = %s", [entry.pk])
        with pytest.raises(ProgrammingError, match="append-only: DELETE on auditlog_logentry refused"):
            execute("DELETE FROM auditlog_logentry WHERE id = %s", [entry.pk])
        Group.objects.create(name="still-writes")  # appending is what the application does
        assert LogEntry.objects.filter(object_repr="still-writes").exists()

    def test_only_the_maintenance_role_writes_anchors(self, entry):
        with pytest.raises(ProgrammingError, match="append-only: INSERT on core_auditanchor"):
            execute(
                "INSERT INTO core_auditanchor (position, hash, entry_id, pruned_count, pruned_before, created_at, "
                "created_by) VALUES (1, repeat('0', 64), %s, 1, now(), now(), 'me')",
                [entry.pk],
            )

    def test_deleting_a_user_may_empty_the_actor_and_nothing_else(self, entry, make_user):
        pat = make_user(username="pat")
        with acting_as(pat.pk):
            Group.objects.create(name="by-pat")
        mallory = make_user(username="mallory")

        with pytest.raises(ProgrammingError, match="append-only"):
            execute("UPDATE auditlog_logentry SET actor_id = %s WHERE object_repr = 'by-pat'", [mallory.pk])
        with pytest.raises(ProgrammingError, match="append-only"):
            execute("UPDATE auditlog_logentry SET actor_id = NULL, object_repr = 'x' WHERE object_repr = 'by-pat'")
        pat.delete()

        assert LogEntry.objects.get(object_repr="by-pat").actor_id is None
        assert AuditSeal.objects.get(entry__object_repr="by-pat").actor_username == "pat"
        assert audit_chain_verify(now=timezone.now()).ok

    def test_the_maintenance_role_prunes_and_leaves_an_anchor(self, entry, time_machine):
        create_maintenance_role()
        time_machine.move_to(timezone.now() + timedelta(days=2), tick=False)
        Group.objects.create(name="kept")

        call_command("audit_prune", f"--before={(timezone.now() - timedelta(days=1)).isoformat()}")

        assert current_user() == "postgres"  # the maintenance role was for the prune only
        assert not LogEntry.objects.filter(pk=entry.pk).exists()
        anchor = AuditAnchor.objects.get()
        assert (anchor.entry_id, anchor.created_by) == (entry.pk, "portal_maintenance")
        report = audit_chain_verify(now=timezone.now())
        assert report.ok, report.problem
        assert report.start.position == anchor.position
        with pytest.raises(ProgrammingError, match="append-only: DELETE on core_auditanchor"):
            execute("DELETE FROM core_auditanchor")


def test_the_search_for_unsealed_entries_walks_only_those_since_the_verification(postgres):
    """The audit page and the health check look for entries without a seal among those written since the last full
    verification (hourly), the first by time: PostgreSQL walks them on the (timestamp, id) index and stops at the first
    without a seal. Asked for the first by id, it sorted them, and on the 100k bench database merged the whole seal
    index against them instead (14 ms per page, growing with the log). Here: 100,000 sealed entries over three years,
    the last hour's not yet in the statistics (as between two autovacuums)."""
    now = timezone.now()
    group = ContentType.objects.get_for_model(Group).pk
    with connection.cursor() as cursor:
        for count, span in ((100_000, timedelta(days=3 * 365)), (3_000, timedelta(hours=1))):
            cursor.execute(
                "INSERT INTO auditlog_logentry (object_pk, object_repr, action, timestamp, content_type_id, "
                "changes_text) SELECT i::text, 'entry ' || i, 1, %s - (%s - i) * %s, %s, '' "
                "FROM generate_series(1, %s) AS i",
                [now, count, span / count, group, count],
            )
            cursor.execute(
                "INSERT INTO core_auditseal (entry_id, position, prev_hash, hash, actor_pk, actor_username) "
                "SELECT id, id, repeat('0', 64), repeat('0', 64), NULL, '' FROM auditlog_logentry e "
                "WHERE NOT EXISTS (SELECT FROM core_auditseal s WHERE s.entry_id = e.id)"
            )
            if count == 100_000:
                cursor.execute("ANALYZE auditlog_logentry, core_auditseal")
    with CaptureQueriesContext(connection) as ctx:
        assert _first_unsealed(now=now, since=now - UNSEALED_GRACE - timedelta(seconds=30)) is None
    (search,) = ctx.captured_queries
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {search['sql']}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "core_logentry_timestamp_id_idx" in plan, plan
    assert "Merge Anti Join" not in plan, plan
