import pytest
from django.urls import reverse

from portal.accounts.roles import Role, has_role, highest_role, user_roles

ROLES = list(Role)


@pytest.mark.parametrize("role", ROLES)
def test_a_role_includes_every_lower_role(make_user, role):
    user = make_user(role)
    assert user_roles(user) == {r for r in Role if r.rank <= role.rank}
    assert highest_role(user) == role


def test_no_group_means_no_role(make_user):
    user = make_user()
    assert user_roles(user) == set()
    assert not has_role(user, Role.VIEWER)


def test_superuser_holds_every_role(make_user):
    assert user_roles(make_user(is_superuser=True)) == set(Role)


def test_inactive_user_holds_no_role(make_user):
    assert user_roles(make_user(Role.ADMIN, is_active=False)) == set()


# Representative pages and endpoints with the least role each needs.
PAGES = [("dashboard", Role.VIEWER), ("audit-log", Role.ADMIN), ("token-list", Role.ADMIN)]
ENDPOINTS = [("api:me", Role.VIEWER), ("api:audit-list", Role.ADMIN), ("api:token-list", Role.ADMIN)]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("url_name", "needed"), PAGES)
def test_pages_admit_exactly_the_roles_that_may_see_them(client, make_user, role, url_name, needed):
    client.force_login(make_user(role))
    response = client.get(reverse(url_name))
    assert response.status_code == (200 if role.rank >= needed.rank else 403)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("url_name", "needed"), ENDPOINTS)
def test_endpoints_admit_exactly_the_roles_that_may_use_them(token_client, role, url_name, needed):
    response = token_client(role).get(reverse(url_name))
    assert response.status_code == (200 if role.rank >= needed.rank else 403)
    if response.status_code == 403:
        assert needed.value in response.json()["detail"]


def test_a_user_without_role_is_told_to_ask_an_admin(client, make_user):
    client.force_login(make_user())
    response = client.get(reverse("dashboard"))
    assert response.status_code == 403
    assert b"no portal role" in response.content


def test_api_refuses_a_user_without_role(token_client):
    assert token_client(None).get(reverse("api:me")).status_code == 403


def test_me_lists_the_roles_held(token_client):
    body = token_client(Role.INCIDENT_COMMANDER, username="cora").get(reverse("api:me")).json()
    assert body["username"] == "cora"
    assert body["roles"] == ["Viewer", "Responder", "Incident Commander"]


def test_role_groups_are_created_by_migration(db):
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {role.value for role in Role}
    admin_perms = set(Group.objects.get(name="Admin").permissions.values_list("codename", flat=True))
    assert {"view_logentry", "add_apitoken", "change_user"} <= admin_perms
