import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from portal.accounts.models import ApiToken
from portal.accounts.roles import Role
from portal.accounts.services import api_token_create, api_token_revoke, token_hash
from portal.errors import ApplicationError, ConflictError


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_issued_key_authenticates_and_only_its_hash_is_stored(make_user):
    user = make_user(Role.RESPONDER, username="ci")
    issued = api_token_create(user=user, name="ci-deploy", created_by=None)

    assert issued.token.key_hash == token_hash(issued.key)
    assert not ApiToken.objects.filter(key_hash=issued.key).exists()
    assert issued.token.prefix == issued.key[:8]
    assert client_with(issued.key).get(reverse("api:me")).json()["username"] == "ci"


def test_revoked_token_is_refused(make_user):
    issued = api_token_create(user=make_user(Role.VIEWER), name="bot", created_by=None)
    api_token_revoke(token=issued.token)

    response = client_with(issued.key).get(reverse("api:me"))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_token_of_an_inactive_user_is_refused(make_user):
    user = make_user(Role.VIEWER)
    issued = api_token_create(user=user, name="bot", created_by=None)
    user.is_active = False
    user.save()
    assert client_with(issued.key).get(reverse("api:me")).status_code == 401


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token not-a-real-key"])
def test_malformed_or_unknown_token_is_a_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(reverse("api:me")).status_code == 401


def test_last_used_is_recorded(make_user):
    issued = api_token_create(user=make_user(Role.VIEWER), name="bot", created_by=None)
    client_with(issued.key).get(reverse("api:me"))
    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None


def test_duplicate_active_name_is_refused_but_a_revoked_name_can_be_reused(make_user):
    user = make_user(Role.VIEWER)
    first = api_token_create(user=user, name="bot", created_by=None)
    with pytest.raises(ApplicationError) as excinfo:
        api_token_create(user=user, name="bot", created_by=None)
    assert excinfo.value.field == "name"
    api_token_revoke(token=first.token)
    assert api_token_create(user=user, name="bot", created_by=None).token.is_active


def test_revoking_twice_is_a_conflict(make_user):
    issued = api_token_create(user=make_user(Role.VIEWER), name="bot", created_by=None)
    api_token_revoke(token=issued.token)
    with pytest.raises(ConflictError):
        api_token_revoke(token=issued.token)


def test_admin_issues_and_revokes_tokens_through_the_api(token_client, make_user):
    admin = token_client(Role.ADMIN, username="ada")
    make_user(Role.VIEWER, username="alertmanager")

    created = admin.post(reverse("api:token-list"), {"user": "alertmanager", "name": "alerts"}, format="json")

    assert created.status_code == 201
    body = created.json()
    assert body["user"] == "alertmanager"
    assert body["created_by"] == "ada"
    assert client_with(body["key"]).get(reverse("api:me")).json()["username"] == "alertmanager"
    listed = admin.get(reverse("api:token-list")).json()
    assert "key" not in listed["results"][0]
    assert {row["name"] for row in listed["results"]} == {"alerts", "tests"}

    revoked = admin.post(reverse("api:token-revoke", args=[body["id"]]))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert admin.post(reverse("api:token-revoke", args=[body["id"]])).status_code == 409
    assert client_with(body["key"]).get(reverse("api:me")).status_code == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x"}, "user"),
        ({"user": "nobody", "name": "x"}, "user"),
        ({"user": "ada"}, "name"),
        ({"user": "ada", "name": "   "}, "name"),
        ({"user": "ada", "name": "n" * 101}, "name"),
    ],
)
def test_bad_token_requests_name_the_field(token_client, payload, field):
    admin = token_client(Role.ADMIN, username="ada")
    response = admin.post(reverse("api:token-list"), payload, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert field in response.json()["errors"]
    assert ApiToken.objects.count() == 1  # only the client's own token


def test_api_token_change_is_audited_with_the_token_user_as_actor(token_client, make_user):
    admin = token_client(Role.ADMIN, username="ada")
    make_user(Role.VIEWER, username="bot")

    admin.post(reverse("api:token-list"), {"user": "bot", "name": "ci"}, format="json", REMOTE_ADDR="10.1.2.3")

    entry = LogEntry.objects.get_for_model(ApiToken).filter(action=LogEntry.Action.CREATE).latest("timestamp")
    assert entry.actor == admin.user
    assert entry.remote_addr == "10.1.2.3"
    assert "key_hash" not in entry.changes_dict


def test_create_api_token_command_prints_a_working_key(make_user, capsys):
    make_user(Role.VIEWER, username="script")
    call_command("create_api_token", "script", "--name", "nightly")
    key = capsys.readouterr().out.strip()
    assert client_with(key).get(reverse("api:me")).json()["username"] == "script"


def test_create_api_token_command_refuses_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "ghost")


class TestTokenPage:
    def test_admin_issues_a_token_and_sees_the_key_once(self, client, admin_user, make_user):
        make_user(Role.VIEWER, username="grafana")
        client.force_login(admin_user)

        response = client.post(reverse("token-list"), {"user": "grafana", "name": "dashboards"})

        assert response.status_code == 200
        key = response.context["issued"].key
        assert key in response.content.decode()
        assert client_with(key).get(reverse("api:me")).status_code == 200
        assert key not in client.get(reverse("token-list")).content.decode()

    def test_invalid_form_answers_400_with_the_field_error(self, client, admin_user):
        client.force_login(admin_user)
        response = client.post(reverse("token-list"), {"user": "ada.admin", "name": ""})
        assert response.status_code == 400
        assert response.context["form"].errors["name"]
        assert not ApiToken.objects.exists()

    def test_duplicate_name_is_shown_on_the_field(self, client, admin_user):
        client.force_login(admin_user)
        client.post(reverse("token-list"), {"user": "ada.admin", "name": "ci"})
        response = client.post(reverse("token-list"), {"user": "ada.admin", "name": "ci"})
        assert response.status_code == 400
        assert "already has an active token" in response.context["form"].errors["name"][0]

    def test_admin_revokes_a_token(self, client, admin_user):
        issued = api_token_create(user=admin_user, name="old", created_by=admin_user)
        client.force_login(admin_user)

        response = client.post(reverse("token-revoke", args=[issued.token.pk]), follow=True)

        assert "revoked" in response.content.decode()
        issued.token.refresh_from_db()
        assert issued.token.revoked_at is not None

    def test_revoke_needs_post(self, client, admin_user):
        issued = api_token_create(user=admin_user, name="old", created_by=admin_user)
        client.force_login(admin_user)
        assert client.get(reverse("token-revoke", args=[issued.token.pk])).status_code == 405

    def test_commander_cannot_revoke(self, client, make_user, admin_user):
        issued = api_token_create(user=admin_user, name="old", created_by=admin_user)
        client.force_login(make_user(Role.INCIDENT_COMMANDER))
        assert client.post(reverse("token-revoke", args=[issued.token.pk])).status_code == 403
        issued.token.refresh_from_db()
        assert issued.token.is_active
