"""Repeated failed sign-ins lock out a username and an address (django-axes); the lockout is audited and an Admin
unlocks it on the Lockouts page or through the API."""

import pytest
from auditlog.models import LogEntry
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from portal.accounts.roles import Role
from portal.accounts.services import api_token_create
from tests.factories import TEST_PASSWORD

LIMIT = 5  # AXES_FAILURE_LIMIT's default


@pytest.fixture
def ann(make_user):
    return make_user(Role.RESPONDER, username="ann")


def sign_in(client: Client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client: Client, username: str, times: int, address: str = "127.0.0.1"):
    return [sign_in(client, username, "not-the-password", address).status_code for _ in range(times)]


def lockout_entries():
    return LogEntry.objects.filter(content_type__app_label="axes", content_type__model="accessattempt")


def test_failed_sign_ins_lock_the_account_and_then_the_right_password_is_refused(client, ann, settings):
    assert fail(client, "ann", LIMIT - 1) == [200] * (LIMIT - 1)  # the form again, with its error

    locked = sign_in(client, "ann", "not-the-password")
    assert locked.status_code == 429
    assert "Sign-in locked" in locked.content.decode()
    assert locked["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))

    refused = sign_in(client, "ann", TEST_PASSWORD)
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("dashboard")).status_code == 302  # still signed out


def test_the_lockout_is_audited_once_with_the_address_it_came_from(client, ann):
    fail(client, "ann", LIMIT + 3, address="203.0.113.9")  # three retries during the lockout
    sign_in(client, "ann", TEST_PASSWORD, address="203.0.113.9")

    entry = lockout_entries().get()
    assert entry.action == LogEntry.Action.UPDATE
    assert entry.actor is None
    assert entry.remote_addr == "203.0.113.9"
    assert entry.object_repr == "sign-ins as ann from 203.0.113.9"
    assert entry.changes_dict["status"] == ["failing", "locked out"]
    assert entry.changes_dict["locked"] == "username ann; address 203.0.113.9"
    assert entry.changes_dict["failed sign-ins"] == LIMIT


def test_an_address_trying_many_usernames_is_locked_out_but_not_the_users_elsewhere(client, ann):
    for name in ["a1", "a2", "a3", "a4", "a5"]:
        fail(client, name, 1, address="198.51.100.7")

    assert sign_in(client, "ann", TEST_PASSWORD, address="198.51.100.7").status_code == 429
    assert sign_in(Client(), "ann", TEST_PASSWORD, address="192.0.2.1").status_code == 302


def test_a_username_is_locked_out_from_every_address(client, ann):
    for number in range(LIMIT):
        fail(client, "ann", 1, address=f"192.0.2.{number + 10}")

    assert sign_in(Client(), "ann", TEST_PASSWORD, address="192.0.2.99").status_code == 429


def test_a_successful_sign_in_forgets_earlier_failures(client, ann):
    fail(client, "ann", LIMIT - 1)
    assert sign_in(client, "ann", TEST_PASSWORD).status_code == 302
    client.post(reverse("logout"))

    assert fail(Client(), "ann", LIMIT - 1) == [200] * (LIMIT - 1)


def test_an_admin_unlocks_on_the_lockouts_page_and_the_user_signs_in(client, ann, admin_user):
    fail(Client(), "ann", LIMIT)
    admin = Client()
    admin.force_login(admin_user)

    page = admin.get(reverse("lockout-list")).content.decode()
    assert "username ann" in page
    assert "address 127.0.0.1" in page

    response = admin.post(reverse("lockout-release"), {"username": "ann"}, follow=True)
    assert "Unlocked ann: 1 failed sign-in record(s) cleared." in response.content.decode()
    assert "No sign-ins are locked out." in response.content.decode()
    assert not AccessAttempt.objects.exists()
    unlock = lockout_entries().get(action=LogEntry.Action.DELETE)
    assert unlock.actor == admin_user
    assert unlock.changes_dict["status"] == ["locked out", "unlocked"]

    assert sign_in(client, "ann", TEST_PASSWORD).status_code == 302


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.INCIDENT_COMMANDER])
def test_only_an_admin_may_unlock(client, ann, make_user, token_client, role):
    fail(Client(), "ann", LIMIT)
    client.force_login(make_user(role))

    assert client.get(reverse("lockout-list")).status_code == 403
    assert client.post(reverse("lockout-release"), {"username": "ann"}).status_code == 403
    api = token_client(role)
    assert api.get(reverse("api:lockout-list")).status_code == 403
    assert api.post(reverse("api:lockout-release"), {"username": "ann"}).status_code == 403

    assert AccessAttempt.objects.filter(username="ann").exists()
    assert sign_in(Client(), "ann", TEST_PASSWORD).status_code == 429


def test_an_admin_lists_and_unlocks_through_the_api(ann, token_client):
    fail(Client(), "ann", LIMIT, address="203.0.113.5")
    admin = token_client(Role.ADMIN, username="root")

    listed = admin.get(reverse("api:lockout-list")).json()["results"]
    assert [(item["parameters"], item["failures"]) for item in listed] == [
        ({"username": "ann"}, LIMIT),
        ({"ip_address": "203.0.113.5"}, LIMIT),
    ]

    response = admin.post(reverse("api:lockout-release"), {"ip_address": "203.0.113.5"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"released": 1}
    assert admin.get(reverse("api:lockout-list")).json()["results"] == []
    assert lockout_entries().get(action=LogEntry.Action.DELETE).actor.username == "root"
    assert sign_in(Client(), "ann", TEST_PASSWORD, address="203.0.113.5").status_code == 302


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [({}, 400, "username"), ({"ip_address": "not-an-address"}, 400, "ip_address"), ({"username": "nobody"}, 404, None)],
)
def test_unlock_refuses_what_it_cannot_do(token_client, body, status, field):
    response = token_client(Role.ADMIN).post(reverse("api:lockout-release"), body, format="json")
    assert response.status_code == status
    assert response.json().get("field") == field


def test_a_locked_out_user_s_api_token_still_works(client, ann):
    """Tokens are not passwords: axes never sees them (DRF's throttles limit them instead)."""
    key = api_token_create(user=ann, name="ci", created_by=None).key
    fail(client, "ann", LIMIT)

    response = Client().get(reverse("api:me"), HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert response.json()["username"] == "ann"


def test_the_admin_site_sign_in_is_locked_out_too(client, admin_user):
    for _ in range(LIMIT):
        client.post(reverse("admin:login"), {"username": admin_user.username, "password": "wrong"})

    response = client.post(reverse("admin:login"), {"username": admin_user.username, "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert "Sign-in locked" in response.content.decode()
