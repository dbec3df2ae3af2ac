from datetime import UTC, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import ApiToken, User
from portal.accounts.roles import Role
from portal.core.audit import acting_as, describe_changes


def make_entries(count: int, *, actor: User | None, when: datetime | None = None) -> None:
    """`count` audit entries by `actor` on one group, at `when` (default: now). Written with their actor and time,
    as entries are sealed when written and cannot be changed afterwards."""
    group = Group.objects.create(name=f"audited-{Group.objects.count()}")
    for _ in range(count):
        LogEntry.objects.log_create(
            group,
            action=LogEntry.Action.UPDATE,
            changes={"name": ["a", "b"]},
            force_log=True,
            actor=actor,
            timestamp=when or timezone.now(),
        )


def test_web_change_records_actor_and_remote_address(client, admin_user, make_user):
    make_user(Role.VIEWER, username="pager")
    client.force_login(admin_user)

    client.post(reverse("token-list"), {"user": "pager", "name": "pd"}, REMOTE_ADDR="192.0.2.7")

    entry = LogEntry.objects.get_for_model(ApiToken).get(action=LogEntry.Action.CREATE)
    assert entry.actor == admin_user
    assert entry.remote_addr == "192.0.2.7"


def test_forwarded_for_is_ignored_unless_trusted(client, admin_user, make_user, settings):
    make_user(Role.VIEWER, username="pager")
    client.force_login(admin_user)

    client.post(
        reverse("token-list"),
        {"user": "pager", "name": "a"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    settings.AUDIT_TRUST_X_FORWARDED_FOR = True
    client.post(
        reverse("token-list"),
        {"user": "pager", "name": "b"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.1",
    )

    addresses = [
        entry.remote_addr
        for entry in LogEntry.objects.get_for_model(ApiToken).filter(action=LogEntry.Action.CREATE).order_by("pk")
    ]
    assert addresses == ["10.0.0.1", "203.0.113.9"]


def test_acting_as_names_the_actor_of_task_changes(make_user):
    requester = make_user(Role.RESPONDER, username="rami")

    with acting_as(requester.pk):
        Group.objects.create(name="made-by-a-task")

    entry = LogEntry.objects.get_for_model(Group).get(object_repr="made-by-a-task")
    assert entry.actor == requester


def test_acting_as_nobody_records_the_system(db):
    with acting_as(None):
        Group.objects.create(name="system-made")
    assert LogEntry.objects.get_for_model(Group).get(object_repr="system-made").actor is None


def test_password_is_never_in_the_audit_log(make_user):
    user = make_user(Role.VIEWER)
    user.set_password("another-long-password")
    user.save()
    for entry in LogEntry.objects.get_for_model(User):
        assert "password" not in entry.changes_dict


def test_group_membership_changes_are_audited(make_user):
    user = make_user()
    user.groups.add(Group.objects.get(name=Role.RESPONDER))
    entry = LogEntry.objects.get_for_model(User).filter(changes__icontains="groups").latest("pk")
    assert describe_changes(entry.changes_dict) == "groups: add Responder"


def test_describe_changes_renders_plain_and_m2m_changes():
    changes = {"name": ["old", "new"], "groups": {"type": "m2m", "operation": "delete", "objects": ["Admin"]}}
    assert describe_changes(changes) == "name: old → new; groups: delete Admin"


class TestAuditPage:
    @pytest.fixture
    def signed_in(self, client, admin_user):
        client.force_login(admin_user)
        return client

    def test_lists_entries_newest_first_with_pagination(self, signed_in, admin_user):
        make_entries(60, actor=admin_user)

        first = signed_in.get(reverse("audit-log"), {"actor": "ada.admin"})
        second = signed_in.get(reverse("audit-log"), {"actor": "ada.admin", "page": 2})

        assert first.status_code == 200
        assert len(first.context["page"].object_list) == 50
        assert len(second.context["page"].object_list) == 10
        assert first.context["page"].object_list[0]["id"] > second.context["page"].object_list[0]["id"]
        assert 'href="?actor=ada.admin&amp;page=2"' in first.content.decode()

    def test_reads_only_what_its_table_shows(self, signed_in, admin_user):
        """Values, not models: not an entry's serialized copy, extra data or text changes, nor the actor's row."""
        make_entries(3, actor=admin_user)
        with CaptureQueriesContext(connection) as ctx:
            page = signed_in.get(reverse("audit-log"))
        assert page.status_code == 200
        read = next(q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "auditlog_logentry"."id"'))
        unread = ("serialized_data", "additional_data", "changes_text", '"accounts_user"."password"')
        assert [column for column in unread if column in read] == []
        assert "ada.admin" in page.content.decode()

    def test_filters_by_actor(self, signed_in, admin_user, make_user):
        other = make_user(Role.ADMIN, username="otto")
        make_entries(3, actor=other)
        make_entries(2, actor=admin_user)

        page = signed_in.get(reverse("audit-log"), {"actor": "otto"}).context["page"]

        assert {entry["actor_name"] for entry in page.object_list} == {"otto"}

    def test_filters_by_model(self, signed_in, admin_user):
        make_entries(2, actor=admin_user)
        group_type = LogEntry.objects.get_for_model(Group).first().content_type

        page = signed_in.get(reverse("audit-log"), {"model": "auth.group"}).context["page"]

        assert page.paginator.count >= 2
        assert {entry["model"] for entry in page.object_list} == {group_type.model}

    def test_offers_the_models_it_names_kept_for_the_minute(self, signed_in, admin_user, make_user, time_machine):
        """Every change writes the log, so no write drops the options: a model named for the first time is offered
        from the next minute, and until then reading them costs nothing."""
        time_machine.move_to(datetime(2026, 5, 4, 11, 30, 10, tzinfo=UTC), tick=False)
        make_entries(1, actor=admin_user)
        assert '<option value="auth.group">' in signed_in.get(reverse("audit-log")).content.decode()
        ApiToken.objects.create(user=admin_user, name="ci", prefix="abcd1234", key_hash="0" * 64)
        with CaptureQueriesContext(connection) as ctx:
            page = signed_in.get(reverse("audit-log")).content.decode()
        assert not [q for q in ctx.captured_queries if 'FROM "django_content_type"' in q["sql"]]
        assert '<option value="accounts.apitoken">' not in page

        time_machine.move_to(datetime(2026, 5, 4, 11, 31, tzinfo=UTC), tick=False)
        page = signed_in.get(reverse("audit-log")).content.decode()  # the same filter values: not the kept fields
        assert '<option value="accounts.apitoken">' in page
        page = signed_in.get(reverse("audit-log"), {"model": "accounts.apitoken"})
        assert '<option value="accounts.apitoken" selected>' in page.content.decode()
        assert {entry["model"] for entry in page.context["page"].object_list} == {"apitoken"}

    def test_filters_by_date_range(self, signed_in, admin_user):
        make_entries(2, actor=admin_user, when=datetime(2026, 3, 1, 12, tzinfo=UTC))
        make_entries(3, actor=admin_user, when=datetime(2026, 6, 1, 12, tzinfo=UTC))

        page = signed_in.get(
            reverse("audit-log"), {"since": "2026-02-28T00:00:00Z", "until": "2026-03-02T00:00:00Z"}
        ).context["page"]

        assert page.paginator.count == 2

    def test_invalid_filter_is_reported_not_a_500(self, signed_in):
        response = signed_in.get(reverse("audit-log"), {"since": "yesterday-ish"})
        assert response.status_code == 200
        assert b"Some filters are invalid" in response.content
        assert b"since" in response.content

    def test_htmx_request_gets_only_the_table(self, signed_in, admin_user):
        make_entries(1, actor=admin_user)
        response = signed_in.get(reverse("audit-log"), HTTP_HX_REQUEST="true")
        html = response.content.decode()
        assert html.lstrip().startswith('<section class="card" id="audit-table">')
        assert "<html" not in html
        assert "HX-Request" in response["Vary"]

    def test_is_refused_to_an_incident_commander(self, client, make_user):
        client.force_login(make_user(Role.INCIDENT_COMMANDER))
        assert client.get(reverse("audit-log")).status_code == 403
        assert client.get(reverse("audit-chain")).status_code == 403

    def test_loads_the_hash_chain_line_after_the_page(self, signed_in, admin_user):
        """The page lists entries without walking the chain; its line comes from audit-chain, loaded by htmx."""
        make_entries(3, actor=admin_user)
        with CaptureQueriesContext(connection) as ctx:
            html = signed_in.get(reverse("audit-log")).content.decode()
        chain_tables = ("core_auditchainhead", "core_auditverification", "core_auditanchor", "core_auditseal")
        sql = " ".join(query["sql"] for query in ctx.captured_queries)
        assert [table for table in chain_tables if f'FROM "{table}"' in sql] == []  # the seals only joined, for names
        assert f'id="audit-chain" hx-get="{reverse("audit-chain")}" hx-trigger="load"' in html
        assert "Hash chain" not in html
        chain = signed_in.get(reverse("audit-chain")).content.decode()
        assert chain.lstrip().startswith('<p class="card" id="audit-chain">')
        assert "Hash chain intact</span>\n  intact through entry" in chain


class TestAuditApi:
    def test_filters_and_paginates(self, token_client, make_user):
        admin = token_client(Role.ADMIN, username="ada")
        make_entries(3, actor=admin.user, when=datetime(2026, 3, 1, tzinfo=UTC))

        response = admin.get(reverse("api:audit-list"), {"actor": "ada", "until": "2026-03-02T00:00:00Z"})

        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 3
        assert body["results"][0]["actor"] == "ada"
        assert body["results"][0]["model"] == "auth.group"
        assert body["results"][0]["changes"] == {"name": ["a", "b"]}

    def test_an_entry_says_who_changed_what_when_and_from_where(self, token_client):
        admin = token_client(Role.ADMIN, username="ada")
        group = Group.objects.create(name="auditors")
        entry = LogEntry.objects.log_create(
            group, action=LogEntry.Action.DELETE, changes={"name": ["auditors", None]}, force_log=True,
            actor=admin.user, timestamp=datetime(2026, 3, 1, 9, 30, tzinfo=UTC), remote_addr="192.0.2.7", cid="req-1",
            actor_email="ada@example.org",
        )  # fmt: skip

        response = admin.get(reverse("api:audit-list"), {"model": "auth.group", "action": LogEntry.Action.DELETE})

        assert response.json()["results"] == [{
            "id": entry.pk, "timestamp": "2026-03-01T09:30:00Z", "actor": "ada", "actor_email": "ada@example.org",
            "remote_addr": "192.0.2.7", "action": "delete", "model": "auth.group", "object_pk": str(group.pk),
            "object_repr": "auditors", "changes": {"name": ["auditors", None]}, "cid": "req-1",
        }]  # fmt: skip

    def test_bad_filter_is_a_400_naming_the_field(self, token_client):
        response = token_client(Role.ADMIN).get(reverse("api:audit-list"), {"since": "soon"})
        assert response.status_code == 400
        assert "since" in response.json()["errors"]

    def test_responder_is_refused(self, token_client):
        assert token_client(Role.RESPONDER).get(reverse("api:audit-list")).status_code == 403


def test_recent_entries_within_range(token_client):
    admin = token_client(Role.ADMIN)
    now = datetime.now(UTC)
    response = admin.get(reverse("api:audit-list"), {"since": (now - timedelta(minutes=5)).isoformat()})
    # the token issued for this client is itself an audited change made moments ago
    assert any(row["model"] == "accounts.apitoken" for row in response.json()["results"])
