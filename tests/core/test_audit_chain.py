"""The tamper-evident audit chain: every entry sealed as written; `audit_verify` names the first entry altered,
deleted or inserted out of order; health and the audit page show the chain's state; pruning leaves an anchor.

Tampering goes behind the application's back with SQL, as someone with direct database access would. On PostgreSQL
the append-only trigger refuses even a superuser, so `tamper` switches triggers off for its statement, which only a
superuser can (tests/integration/test_audit_chain.py shows the trigger refusing)."""

import contextlib
import importlib
import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.accounts.roles import Role
from portal.core import tasks
from portal.core.audit import acting_as, sealed_together
from portal.core.audit_chain import ENTRY_FIELDS, GENESIS, link_hash
from portal.core.filters import AUDITED_MODELS
from portal.core.models import AuditAnchor, AuditChainHead, AuditSeal, AuditVerification
from portal.core.selectors import UNSEALED_GRACE, audit_chain_verify

NOW = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
SEAL_WRITES = ('SELECT "core_auditchainhead"', 'INSERT INTO "core_auditseal"', 'UPDATE "core_auditchainhead"')


def tamper(sql: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")


def verify() -> str:
    """`manage.py audit_verify`'s output, for an intact chain."""
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def broken() -> str:
    """`manage.py audit_verify`'s error, for a broken chain: it exits with status 1."""
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify", stdout=io.StringIO())
    assert failure.value.returncode == 1
    return str(failure.value)


def entries_at(time_machine, *instants: datetime) -> list[LogEntry]:
    """One audited change (a group created) at each of these instants, oldest first."""
    made = []
    for instant in instants:
        time_machine.move_to(instant, tick=False)
        made.append(LogEntry.objects.get_for_object(Group.objects.create(name=f"group-at-{instant:%Y%m%d%H%M}")).get())
    return made


@pytest.fixture
def history(make_user):
    """A person and a dozen audited changes of theirs: groups created, renamed, deleted."""
    ada = make_user(Role.ADMIN, username="ada")
    with acting_as(ada.pk):
        for n in range(4):
            group = Group.objects.create(name=f"team-{n}")
            group.name = f"squad-{n}"
            group.save()
            if n % 2:
                group.delete()
    return list(LogEntry.objects.order_by("seal__position"))


# What README's "Audit chain" grants the maintenance role: pruning must work with no more.
MAINTENANCE_GRANTS = [
    "GRANT SELECT, DELETE ON auditlog_logentry, core_auditseal TO portal_maintenance",
    "GRANT SELECT, UPDATE ON core_auditchainhead TO portal_maintenance",
    "GRANT SELECT, INSERT ON core_auditanchor TO portal_maintenance",
    "GRANT SELECT ON django_content_type TO portal_maintenance",
    "GRANT USAGE ON SEQUENCE core_auditanchor_id_seq TO portal_maintenance",
]


def create_maintenance_role() -> None:
    """The role audit_prune switches to, created in the test's transaction (so it goes with it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portal_maintenance') THEN "
            "CREATE ROLE portal_maintenance NOLOGIN; END IF; END $$"
        )
        for grant in MAINTENANCE_GRANTS:
            cursor.execute(grant)


@pytest.fixture
def maintenance_role(db):
    """On PostgreSQL, the maintenance role with what README grants it; nothing on SQLite, which has no roles."""
    if connection.vendor == "postgresql":
        create_maintenance_role()


class TestSealing:
    def test_every_change_is_sealed_into_one_chain(self, history):
        seals = list(AuditSeal.objects.order_by("position"))

        assert len(seals) == LogEntry.objects.count() == len(history) >= 12
        assert [seal.position for seal in seals] == list(range(1, len(seals) + 1))
        assert seals[0].prev_hash == GENESIS
        assert all(later.prev_hash == earlier.hash for earlier, later in zip(seals, seals[1:], strict=False))
        head = AuditChainHead.objects.get()
        assert (head.position, head.hash) == (seals[-1].position, seals[-1].hash)
        assert f"intact through link {len(seals)} (entry {seals[-1].entry_id})" in verify()

    def test_a_seal_covers_what_the_database_stored(self, admin_user):
        """The hash is made from the entry as read back, so spellings the database normalises (an IPv6 address,
        a time zone) verify."""
        group = Group.objects.create(name="ops")
        with acting_as(admin_user.pk, remote_addr="2001:DB8:0:0::7"):
            LogEntry.objects.log_create(
                group,
                action=LogEntry.Action.UPDATE,
                changes={"name": ["opérations", "ops ✓"], "nested": {"b": [1, 2.5, None], "a": True}},
                timestamp=datetime(2026, 3, 1, 14, tzinfo=timezone(timedelta(hours=2))),
                force_log=True,
            )
        assert "intact" in verify()

    def test_rolled_back_entries_take_their_seals_with_them(self, history):
        head = AuditChainHead.objects.values_list("position", "hash").get()

        def change_then_fail() -> None:
            with transaction.atomic():
                Group.objects.create(name="never")
                raise RuntimeError

        with pytest.raises(RuntimeError):
            change_then_fail()

        assert AuditChainHead.objects.values_list("position", "hash").get() == head
        assert "intact" in verify()

    def test_a_blocks_entries_are_sealed_together_at_its_end(self, admin_user):
        """Four queries seal a `sealed_together` block's entries however many they are; a block nested in it joins
        it; the entries rolled back with a savepoint inside it are skipped."""

        def write(n: int) -> list[str]:
            with CaptureQueriesContext(connection) as queries, acting_as(admin_user.pk), sealed_together():
                for i in range(n):
                    with sealed_together():
                        Group.objects.create(name=f"batch-{n}-{i}")
                with contextlib.suppress(IntegrityError), transaction.atomic():
                    Group.objects.create(name=f"rolled-back-{n}")
                    Group.objects.create(name=f"batch-{n}-0")  # the name is taken: the savepoint rolls back
                assert not AuditSeal.objects.filter(entry__object_repr__startswith=f"batch-{n}-").exists()
            return [sql for query in queries if (sql := query["sql"]).startswith(SEAL_WRITES)]

        two, twenty = write(2), write(20)

        assert len(two) == len(twenty) == 3, twenty  # lock the head, insert the seals, move the head
        assert not LogEntry.objects.filter(object_repr__startswith="rolled-back").exists()
        assert AuditSeal.objects.filter(entry__object_repr__startswith="batch-").count() == 22
        assert f"intact through link {LogEntry.objects.count()}" in verify()

    def test_a_block_that_fails_leaves_neither_entries_nor_seals(self, history):
        head = AuditChainHead.objects.values_list("position", "hash").get()

        def change_then_fail() -> None:
            with sealed_together():
                Group.objects.create(name="never")
                raise RuntimeError

        with pytest.raises(RuntimeError):
            change_then_fail()

        assert AuditChainHead.objects.values_list("position", "hash").get() == head
        assert not LogEntry.objects.filter(object_repr="never").exists()
        assert "intact" in verify()

    def test_the_canonical_form_is_pinned(self):
        """Changing what a link's hash covers would break every existing chain: this pins it."""
        entry = {
            "id": 7,
            "content_type__app_label": "auth",
            "content_type__model": "group",
            "object_pk": "3",
            "object_id": 3,
            "object_repr": "ops",
            "serialized_data": None,
            "action": 1,
            "changes_text": "",
            "changes": {"name": ["a", "b"]},
            "cid": None,
            "remote_addr": "2001:DB8::1",
            "remote_port": 443,
            "timestamp": datetime(2026, 3, 1, 12, tzinfo=UTC),
            "additional_data": None,
            "actor_email": "ada@example.com",
        }
        assert set(entry) == set(ENTRY_FIELDS)
        link = {"entry": entry, "position": 5, "actor_pk": 2, "actor_username": "ada", "prev_hash": "a" * 64}

        assert link_hash(**link) == "d1139f7bf5fda5e1eed650f6c3d388c6f30c51be23c926a411559939219db8ad"
        same = {
            **entry,
            "remote_addr": "2001:db8:0::1",
            "timestamp": datetime(2026, 3, 1, 7, tzinfo=timezone(-timedelta(hours=5))),
        }
        assert link_hash(**{**link, "entry": same}) == link_hash(**link)
        for field, value in [("object_repr", "op"), ("changes", {"name": ["a", "c"]}), ("action", 2)]:
            assert link_hash(**{**link, "entry": {**entry, field: value}}) != link_hash(**link)
        assert link_hash(**{**link, "actor_username": "eve"}) != link_hash(**link)
        assert link_hash(**{**link, "prev_hash": "b" * 64}) != link_hash(**link)

    def test_entries_written_before_the_chain_are_sealed_by_its_migration(self, make_user):
        ada = make_user(username="ada")
        with acting_as(ada.pk):
            Group.objects.create(name="legacy")
        tamper("DELETE FROM core_auditseal", [])  # as if written before the chain existed
        tamper("DELETE FROM core_auditchainhead", [])

        importlib.import_module("portal.core.migrations.0002_audit_chain").seal_existing_entries(apps, None)

        assert AuditSeal.objects.count() == LogEntry.objects.count() > 1
        assert AuditSeal.objects.get(entry__object_repr="legacy").actor_username == "ada"
        assert "intact" in verify()

    def test_its_migration_reads_the_log_in_key_ordered_batches(self, make_user):
        with acting_as(make_user(username="ada").pk):
            for number in range(5):
                Group.objects.create(name=f"legacy {number}")
        rows = LogEntry.objects.order_by("pk").values("id")

        read = importlib.import_module("portal.core.migrations.0002_audit_chain").key_ordered(rows, size=2)

        assert [row["id"] for row in read] == list(LogEntry.objects.order_by("pk").values_list("id", flat=True))


class TestVerification:
    def test_an_altered_entry_is_named(self, history):
        victim = history[5]
        tamper(
            "UPDATE auditlog_logentry SET changes = %s WHERE id = %s",
            [json.dumps({"name": ["team-2", "innocent"]}), victim.pk],
        )

        message = broken()

        assert f"entry {victim.pk} (link 6) was altered" in message

    def test_a_changed_actor_is_named(self, history, make_user):
        victim, eve = history[3], make_user(username="eve")
        tamper("UPDATE auditlog_logentry SET actor_id = %s WHERE id = %s", [eve.pk, victim.pk])

        assert f"entry {victim.pk} (link 4) was altered: its actor changed" in broken()

    def test_a_deleted_entry_is_named_as_a_gap(self, history):
        before, victim, after = history[6:9]
        tamper("DELETE FROM core_auditseal WHERE entry_id = %s", [victim.pk])
        tamper("DELETE FROM auditlog_logentry WHERE id = %s", [victim.pk])

        message = broken()

        assert f"link 8 is missing between entry {before.pk} (link 7) and entry {after.pk} (link 9)" in message
        assert "deleted" in message

    def test_an_entry_deleted_without_its_seal_is_named(self, history):
        victim = history[2]
        tamper("DELETE FROM auditlog_logentry WHERE id = %s", [victim.pk])

        assert f"entry {victim.pk} (link 3) was deleted; its seal remains" in broken()
        tamper("DELETE FROM core_auditseal WHERE entry_id = %s", [victim.pk])  # or the test's FK check would fail

    def test_the_newest_entries_deleted_are_noticed(self, history):
        last_kept = history[-3]
        for victim in history[-2:]:
            tamper("DELETE FROM core_auditseal WHERE entry_id = %s", [victim.pk])
            tamper("DELETE FROM auditlog_logentry WHERE id = %s", [victim.pk])

        n = len(history)
        assert f"links {n - 1}-{n} are missing after entry {last_kept.pk} (link {n - 2})" in broken()

    def test_an_entry_inserted_without_a_seal_is_named(self, history, time_machine):
        time_machine.move_to(NOW, tick=False)
        # bulk_create sends no post_save: an entry written behind the chain's back, dated last month
        (forged,) = LogEntry.objects.bulk_create(
            [
                LogEntry(
                    content_type=history[0].content_type,
                    object_pk="1",
                    object_repr="nothing to see",
                    action=LogEntry.Action.DELETE,
                    timestamp=NOW - timedelta(days=30),
                )
            ]
        )

        assert f"entry {forged.pk} (2026-04-04 10:30:00Z) has no seal: it was inserted outside the chain" in broken()

    def test_a_link_inserted_out_of_order_is_named(self, history):
        """A forged entry with a well-formed seal that chains onto an older link than the head."""
        head = AuditChainHead.objects.get()
        (forged,) = LogEntry.objects.bulk_create(
            [LogEntry(content_type=history[0].content_type, object_pk="1", object_repr="x", action=0)]
        )
        row = LogEntry.objects.filter(pk=forged.pk).values(*ENTRY_FIELDS).get()
        elsewhere = history[2].seal.hash
        forged_hash = link_hash(
            entry=row, position=head.position + 1, actor_pk=None, actor_username="", prev_hash=elsewhere
        )
        AuditSeal.objects.create(entry=forged, position=head.position + 1, prev_hash=elsewhere, hash=forged_hash)
        AuditChainHead.objects.update(position=head.position + 1, hash=forged_hash)

        assert f"entry {forged.pk} (link {head.position + 1}) does not chain to entry {history[-1].pk}" in broken()

    def test_a_rewritten_seal_breaks_the_next_link(self, history):
        """Whoever alters an entry and recomputes its seal still leaves the next link pointing at the old hash."""
        victim, following = history[4], history[5]
        tamper("UPDATE auditlog_logentry SET object_repr = %s WHERE id = %s", ["innocent", victim.pk])
        row = LogEntry.objects.filter(pk=victim.pk).values(*ENTRY_FIELDS).get()
        seal = victim.seal
        rewritten = link_hash(
            entry=row, position=5, actor_pk=seal.actor_pk, actor_username=seal.actor_username, prev_hash=seal.prev_hash
        )
        tamper("UPDATE core_auditseal SET hash = %s WHERE entry_id = %s", [rewritten, victim.pk])

        message = broken()

        assert f"entry {following.pk} (link 6) does not chain to entry {victim.pk} (link 5)" in message
        assert "rewritten" in message

    def test_verification_reads_in_batches(self, history):
        for batch_size in (3, len(history) - 1, len(history)):
            with CaptureQueriesContext(connection) as queries:
                report = audit_chain_verify(now=NOW, batch_size=batch_size)

            assert (report.ok, report.checked) == (True, len(history))
            seal_reads = [query["sql"] for query in queries if 'FROM "core_auditseal"' in query["sql"]]
            assert all(sql.endswith(f"LIMIT {batch_size}") for sql in seal_reads)
            # Full batches, then a short one or (when they divide the chain) an empty one ends the walk.
            assert len(seal_reads) == len(history) // batch_size + 1

    def test_an_entry_moments_old_may_still_be_waiting_for_its_seal(self, history, time_machine):
        """Written outside a transaction, an entry commits just before its seal: not reported within the grace."""
        time_machine.move_to(NOW, tick=False)
        LogEntry.objects.bulk_create(
            [LogEntry(content_type=history[0].content_type, object_pk="1", object_repr="x", action=0, timestamp=NOW)]
        )

        assert audit_chain_verify(now=NOW + UNSEALED_GRACE / 2).ok
        assert audit_chain_verify(now=NOW + UNSEALED_GRACE * 2).problem.kind == "unsealed"


class TestActorKept:
    def test_deleting_a_user_keeps_who_did_what(self, make_user, client, admin_user, token_client):
        pat = make_user(Role.RESPONDER, username="pat", email="pat@example.com")
        with acting_as(pat.pk):
            Group.objects.create(name="made-by-pat")
        pat.email = "patricia@example.com"
        pat.save()
        pat.delete()

        entry = LogEntry.objects.get(object_repr="made-by-pat")
        assert entry.actor is None
        assert entry.actor_email == "pat@example.com"
        assert entry.seal.actor_username == "pat"
        assert "intact" in verify()
        client.force_login(admin_user)
        page = client.get(reverse("audit-log"), {"actor": "pat"})
        assert [row["object_repr"] for row in page.context["page"].object_list if row["model"] == "group"] == [
            "made-by-pat"
        ]
        assert "<td>pat</td>" in page.content.decode()
        api = token_client(Role.ADMIN).get(reverse("api:audit-list"), {"actor": "pat", "model": "auth.group"})
        assert [row["actor"] for row in api.json()["results"]] == ["pat"]


class TestChainState:
    def test_beat_records_a_full_verification_and_health_shows_it(self, history, token_client, time_machine):
        time_machine.move_to(NOW, tick=False)
        assert tasks.verify_audit_chain() is True
        recorded = AuditVerification.objects.get()
        assert (recorded.ok, recorded.position, recorded.entry_id) == (True, len(history), history[-1].pk)

        audit = token_client(Role.VIEWER).get("/api/health/detailed").json()["components"]["audit"]

        assert audit["status"] == "ok"
        assert audit["last_seen"] == "2026-05-04T10:30:00Z"
        # the token_client's user and token are new entries, verified as the tail since the checkpoint
        assert audit["detail"].startswith("intact through entry")
        assert "not fully verified" not in audit["detail"]

    def test_health_shows_a_broken_chain(self, history, token_client):
        victim = history[-1]
        client = token_client(Role.VIEWER)
        tamper("UPDATE auditlog_logentry SET object_repr = %s WHERE id = %s", ["innocent", victim.pk])

        response = client.get("/api/health/detailed")

        assert response.status_code == 200  # not a reason to take the portal out of rotation
        assert response.json()["status"] == "degraded"
        audit = response.json()["components"]["audit"]
        assert audit["status"] == "down"
        assert audit["detail"].startswith(f"broken at entry {victim.pk}: entry {victim.pk}")

    def test_an_old_alteration_shows_once_beat_has_verified(self, history, client, admin_user, time_machine):
        time_machine.move_to(NOW, tick=False)
        tasks.verify_audit_chain()
        client.force_login(admin_user)
        victim = history[1]
        tamper("UPDATE auditlog_logentry SET object_repr = %s WHERE id = %s", ["innocent", victim.pk])
        assert "Hash chain intact" in client.get(reverse("audit-chain")).content.decode()  # health checks the tail only

        time_machine.move_to(NOW + timedelta(hours=1), tick=False)
        assert tasks.verify_audit_chain() is False
        page = client.get(reverse("audit-chain")).content.decode()

        assert "Hash chain broken" in page
        assert f"broken at entry {victim.pk}: entry {victim.pk} (link 2) was altered" in page
        assert "Last full verification 2026-05-04 11:30 UTC" in page

    def test_audit_page_and_chain_line_queries_do_not_grow_with_entries(self, client, admin_user):
        client.force_login(admin_user)

        def counts() -> list[int]:
            AUDITED_MODELS.invalidate()  # read again, as the first time
            found = []
            for name in ("audit-log", "audit-chain"):
                with CaptureQueriesContext(connection) as ctx:
                    assert client.get(reverse(name)).status_code == 200
                found.append(len(ctx.captured_queries))
            return found

        for n in range(2):
            Group.objects.create(name=f"few-{n}")
        few = counts()
        for n in range(30):
            Group.objects.create(name=f"many-{n}")
        assert counts() == few
        assert "Hash chain intact" in client.get(reverse("audit-chain")).content.decode()


class TestPrune:
    def test_prune_leaves_a_verifiable_anchor(self, maintenance_role, time_machine):
        old = entries_at(time_machine, datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 20, tzinfo=UTC))
        kept = entries_at(time_machine, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
        last_old = old[-1].seal
        time_machine.move_to(NOW, tick=False)

        call_command("audit_prune", "--before=2026-02-01")

        assert not LogEntry.objects.filter(pk__in=[entry.pk for entry in old]).exists()
        assert not AuditSeal.objects.filter(position__lte=last_old.position).exists()
        assert LogEntry.objects.filter(pk__in=[entry.pk for entry in kept]).count() == 2
        anchor = AuditAnchor.objects.get()
        assert (anchor.position, anchor.hash, anchor.entry_id) == (last_old.position, last_old.hash, last_old.entry_id)
        assert (anchor.pruned_count, anchor.pruned_before) == (2, datetime(2026, 2, 1, tzinfo=UTC))
        assert f"from the anchor at link {anchor.position} (entry {anchor.entry_id}, pruned)" in verify()
        tamper("DELETE FROM core_auditseal WHERE entry_id = %s", [kept[0].pk])
        tamper("DELETE FROM auditlog_logentry WHERE id = %s", [kept[0].pk])
        assert f"missing between entry {anchor.entry_id} (link {anchor.position}) and entry {kept[1].pk}" in broken()

    def test_prune_refuses_a_broken_chain(self, maintenance_role, history, time_machine):
        time_machine.move_to(NOW, tick=False)
        tamper("UPDATE auditlog_logentry SET object_repr = %s WHERE id = %s", ["innocent", history[2].pk])

        with pytest.raises(CommandError, match="Refusing to prune: the audit chain is broken"):
            call_command("audit_prune", "--before=2026-05-01")
        assert not AuditAnchor.objects.exists()

    def test_nothing_newer_than_before_is_pruned(self, maintenance_role, history, time_machine):
        time_machine.move_to(NOW, tick=False)
        call_command("audit_prune", "--before=2020-01-01")
        assert not AuditAnchor.objects.exists()
        assert LogEntry.objects.count() == len(history)
